import type { TableRef } from './inventory.js'

/** SQL names (pure): exact table names as users write them, and how to write them back. */

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`

/** Quoted only when needed, as pg_dump writes names (keywords aside). */
export const quoteIdentIfNeeded = (name: string): string => (/^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdent(name))

export const qualifiedName = (t: TableRef): string => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`

/**
 * An exact table name with standard SQL quoting: `orders`, `sales.orders`,
 * `public."Order"`, `"my schema"."my.table"`. Unquoted parts fold to lower case;
 * no schema means public. Throws a message for what is not a name.
 */
export function parseTableName(text: string): TableRef {
  const parts: string[] = []
  let i = 0
  while (i <= text.length) {
    let part = ''
    if (text[i] === '"') {
      i++
      for (;;) {
        if (i >= text.length) throw new Error(`${text}: unterminated quote`)
        if (text[i] === '"' && text[i + 1] !== '"') break
        // "" inside quotes is one ".
        part += text[i]
        i += text[i] === '"' ? 2 : 1
      }
      i++
      if (part === '') throw new Error(`${text}: empty quoted name`)
    } else {
      const match = /^[^".]*/.exec(text.slice(i))?.[0] ?? ''
      if (!/^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*$/.test(match)) {
        throw new Error(`${text}: "${match}" is not a plain name; put names with other characters in double quotes (e.g. public."My Table")`)
      }
      part = match.toLowerCase()
      i += match.length
    }
    parts.push(part)
    if (i === text.length) break
    if (text[i] !== '.') throw new Error(`${text}: expected "." after ${quoteIdent(part)}`)
    i++
  }
  if (parts.length > 2) throw new Error(`${text}: give schema.table (a name with a dot in it goes in double quotes)`)
  return parts.length === 2 ? { schema: parts[0], table: parts[1] } : { schema: 'public', table: parts[0] }
}
