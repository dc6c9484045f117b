/** The CLI's argument parsing and terminal host (pure enough to test; cli.ts only runs it). */
import type { Host } from './host.js'

export const USAGE = `Usage: pg-backup <command> [--<input-name> <value> ...]

Commands: backup (default), verify, drill, restore, prune, monitor, schema;
keygen [--output key.txt] makes an age key pair for encryption-public-keys / encryption-private-key.
Flags are the action's inputs: --database-url, --storage, --path, --s3-bucket, ...
Keep secrets out of argv: every input can also come from PG_BACKUP_<INPUT_NAME>
(e.g. PG_BACKUP_DATABASE_URL, PG_BACKUP_ENCRYPTION_PRIVATE_KEY); PG* variables work too.
Outputs are printed as name=value lines on stdout; logs and the summary go to stderr.`

/** `--a-b value`, `--a-b=value`, `--flag` (true). */
export function parseArgs(argv: string[]): Map<string, string> {
  const flags = new Map<string, string>()
  const rest = [...argv]
  if (rest[0] && !rest[0].startsWith('-')) flags.set('command', rest.shift() as string)
  while (rest.length > 0) {
    const arg = rest.shift() as string
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg)
    if (!match) throw new Error(`unexpected argument "${arg}"\n\n${USAGE}`)
    const [, name, inline] = match
    if (inline !== undefined) flags.set(name, inline)
    else if (rest[0] !== undefined && !rest[0].startsWith('--')) flags.set(name, rest.shift() as string)
    else flags.set(name, 'true')
  }
  return flags
}

export function cliHost(flags: Map<string, string>, env: NodeJS.ProcessEnv): Host {
  return {
    input: name => flags.get(name) ?? env[`PG_BACKUP_${name.toUpperCase().replace(/-/g, '_')}`] ?? '',
    output: (name, value) => process.stdout.write(`${name}=${value}\n`),
    secret: () => undefined,
    info: message => process.stderr.write(`${message}\n`),
    warning: message => process.stderr.write(`warning: ${message}\n`),
    debug: message => void (env.PG_BACKUP_DEBUG ? process.stderr.write(`debug: ${message}\n`) : undefined),
    summary: async markdown => void process.stderr.write(`\n${markdown}\n`),
    env
  }
}
