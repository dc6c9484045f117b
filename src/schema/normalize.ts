/**
 * pg_dump --schema-only output with what changes from run to run removed, so that an
 * unchanged database gives a byte-identical file (and a git history without noise):
 *
 * - `\restrict <key>` / `\unrestrict <key>` (pg_dump 17.6, 16.10, 15.14, 14.19, 13.22 and
 *   later): a fresh random key on every run, guarding psql against meta-commands in the dump;
 * - the `-- Dumped from database version` / `-- Dumped by pg_dump version` banner, which
 *   changes with every minor upgrade of the server or of the client.
 *
 * Only the header (before the first statement) and the trailer (after the completion
 * marker) are touched: everything between is the schema, byte for byte.
 */
export function normalizeSchema(sql: string): string {
  const lines = sql.split('\n')
  const firstStatement = lines.findIndex(line => line !== '' && !line.startsWith('--') && !line.startsWith('\\restrict '))
  const headerEnd = firstStatement === -1 ? lines.length : firstStatement
  const trailerStart = lines.lastIndexOf('-- PostgreSQL database dump complete')
  const key = lines
    .slice(0, headerEnd)
    .find(line => line.startsWith('\\restrict '))
    ?.slice('\\restrict '.length)

  const volatile = (line: string, index: number): boolean => {
    if (index < headerEnd) return (key !== undefined && line === `\\restrict ${key}`) || /^-- Dumped (from database|by pg_dump) version /.test(line)
    return trailerStart !== -1 && index > trailerStart && key !== undefined && line === `\\unrestrict ${key}`
  }
  const kept: string[] = []
  for (let i = 0; i < lines.length; i++) {
    if (!volatile(lines[i], i)) {
      kept.push(lines[i])
      continue
    }
    // Each removed line (or the banner pair) was followed by one blank line of its own.
    while (i + 1 < lines.length && volatile(lines[i + 1], i + 1)) i++
    if (lines[i + 1] === '') i++
  }
  return kept.join('\n')
}
