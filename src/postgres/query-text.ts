/**
 * Checks that a query is one statement whose parentheses balance, reading SQL's quoting
 * ('…' with '' and E'\'', "…", $tag$…$tag$, -- comments and nested block comments) without a server.
 * An export runs as `COPY (<query>) TO STDOUT`: a `;` or an unbalanced `)` would let the
 * text end the COPY early and run something after it, outside the read-only transaction.
 */
export function queryTextProblem(sql: string): string | undefined {
  let depth = 0
  let i = 0
  const n = sql.length
  while (i < n) {
    const c = sql[i]
    const next = sql[i + 1]
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i)
      i = end === -1 ? n : end + 1
    } else if (c === '/' && next === '*') {
      let nesting = 1
      i += 2
      while (i < n && nesting > 0) {
        const pair = sql.slice(i, i + 2)
        nesting += pair === '/*' ? 1 : pair === '*/' ? -1 : 0
        i += pair === '/*' || pair === '*/' ? 2 : 1
      }
      if (nesting > 0) return 'has an unterminated /* comment'
    } else if (c === "'" || c === '"') {
      const escapes = c === "'" && /[eE]/.test(sql[i - 1] ?? '') && !/[\w$]/.test(sql[i - 2] ?? '')
      i++
      for (;;) {
        if (i >= n) return `has an unterminated ${c === "'" ? 'string' : 'quoted identifier'}`
        if (escapes && sql[i] === '\\') i += 2
        else if (sql[i] === c && sql[i + 1] === c) i += 2
        else if (sql[i] === c) break
        else i++
      }
      i++
    } else if (c === '$' && !/[\w$]/.test(sql[i - 1] ?? '')) {
      const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i))?.[0]
      if (!tag) {
        i++
        continue
      }
      const end = sql.indexOf(tag, i + tag.length)
      if (end === -1) return `has an unterminated ${tag} string`
      i = end + tag.length
    } else {
      if (c === ';') return 'holds more than one statement (a ";" outside quotes): give one query'
      if (c === '(') depth++
      if (c === ')' && --depth < 0) return 'has a ")" without its "("'
      i++
    }
  }
  return depth === 0 ? undefined : 'has a "(" without its ")"'
}
