/**
 * Checks for JSON read back from storage: a stored format is validated where it is read,
 * so a hand-edited or foreign file fails naming the field instead of surfacing later as undefined.
 */

export class FormatError extends Error {
  constructor(source: string, problem: string) {
    super(`${source}: ${problem}`)
    this.name = 'FormatError'
  }
}

type Check = (value: unknown, path: string) => string | undefined

const typeOf = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v)

export const str: Check = (v, p) => (typeof v === 'string' ? undefined : `${p} should be a string, not ${typeOf(v)}`)
export const num: Check = (v, p) => (typeof v === 'number' && Number.isFinite(v) ? undefined : `${p} should be a number, not ${typeOf(v)}`)
export const bool: Check = (v, p) => (typeof v === 'boolean' ? undefined : `${p} should be true or false, not ${typeOf(v)}`)
export const optional =
  (check: Check): Check =>
  (v, p) =>
    v === undefined || v === null ? undefined : check(v, p)
export const oneOf =
  (allowed: readonly string[]): Check =>
  (v, p) =>
    typeof v === 'string' && allowed.includes(v) ? undefined : `${p} should be one of ${allowed.join(', ')}, not ${JSON.stringify(v)}`
export const arrayOf =
  (check: Check): Check =>
  (v, p) => {
    if (!Array.isArray(v)) return `${p} should be an array, not ${typeOf(v)}`
    for (let i = 0; i < v.length; i++) {
      const problem = check(v[i], `${p}[${i}]`)
      if (problem) return problem
    }
    return undefined
  }
export const shape =
  (fields: Record<string, Check>): Check =>
  (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${p || 'the document'} should be an object, not ${typeOf(v)}`
    for (const [name, check] of Object.entries(fields)) {
      const problem = check((v as Record<string, unknown>)[name], p ? `${p}.${name}` : name)
      if (problem) return problem
    }
    return undefined
  }

/** Parses JSON text and checks it against a shape, failing with the source and the first wrong field. */
export function parseChecked<T>(text: string, source: string, check: Check): T {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new FormatError(source, 'is not valid JSON')
  }
  const problem = check(value, '')
  if (problem) throw new FormatError(source, problem)
  return value as T
}
