import { spawn } from 'node:child_process'
import type { Readable } from 'node:stream'
import type { RestoreError } from '../model/drill-report.js'
import { BackupError } from '../errors.js'
import type { Format } from '../model/vocabulary.js'
import type { Secrets } from '../secrets.js'
import { childEnv, libpqEnv, type Connection } from './connection.js'
import type { ClientTools } from './tools.js'

// Errors a restore into a plain Postgres is bound to meet when the source was a
// managed platform (Supabase: anon, authenticated, service_role, supabase_admin, …).
const EXPECTED: Array<[RegExp, string]> = [
  [/role "[^"]+" does not exist/, 'owner or grant for a role that exists only on the source'],
  [/must be (owner|member) of|permission denied to (set|grant)|must have admin option/, 'ownership or grant the restoring role may not give'],
  [/^extension "[^"]+" (is not available|does not exist)|could not open extension control file/, 'platform extension not installed on the target'],
  [
    /^(must be superuser to create an event trigger|publication "[^"]+" does not exist|must be superuser to create subscriptions)/,
    'platform-level object not restorable on a plain server'
  ]
]

/**
 * Splits pg_restore/psql stderr into errors, marking the ones a drill expects (pure).
 * Only the server's ERROR line is kept, never the failed SQL ("Command was: …"), which
 * may hold secrets such as a user mapping's password; any other error is unexpected.
 */
export function classifyErrors(stderr: string): RestoreError[] {
  const errors: RestoreError[] = []
  for (const block of stderr.split(/\n(?=pg_restore: |psql:)/)) {
    const line = block.split('\n')[0]
    const server = /ERROR:\s+(.*)$/.exec(line)
    if (server) {
      const message = redactSqlSecrets(server[1].trim()).slice(0, 500)
      const reason = EXPECTED.find(([pattern]) => pattern.test(message))?.[1]
      errors.push(reason ? { message, expected: reason } : { message })
    } else if (/^pg_restore: error: |^psql:.*(FATAL|error):/.test(line)) {
      errors.push({ message: redactSqlSecrets(line.replace(/^pg_restore: error: /, '')).slice(0, 500) })
    }
  }
  return errors
}

function redactSqlSecrets(text: string): string {
  return text.replace(/(password\s*[= ]\s*)('[^']*'|\S+)/gi, '$1***')
}

export interface RestoreOptions {
  format: Format
  target: Connection
  tools: ClientTools
  jobs: number
  secrets: Secrets
  /** pg_restore only: drop objects before recreating them. */
  clean?: boolean
  /** Archive on disk (needed for parallel restore), or a stream for a single worker. */
  file?: string
  stream?: Readable
}

/**
 * Runs pg_restore (custom) or psql (plain) against the target and returns every
 * error it reported. Fails outright only when the tool could not run at all.
 */
export async function restoreArchive(options: RestoreOptions): Promise<RestoreError[]> {
  const env = childEnv({ ...options.tools.env, ...libpqEnv(options.target) })
  let command: string
  let args: string[]
  if (options.format === 'custom') {
    command = options.tools.bin('pg_restore')
    args = ['--no-password', `--dbname=${options.target.database ?? ''}`]
    if (options.file && options.jobs > 1) args.push(`--jobs=${options.jobs}`)
    if (options.clean) args.push('--clean', '--if-exists')
    if (options.file) args.push(options.file)
  } else {
    command = options.tools.bin('psql')
    args = ['--no-password', '--quiet', '--no-psqlrc', '--set=ON_ERROR_STOP=0', '--output=/dev/null']
    if (options.file) args.push(`--file=${options.file}`)
  }
  const child = spawn(command, args, { env, stdio: [options.file ? 'ignore' : 'pipe', 'ignore', 'pipe'] })
  if (options.stream && child.stdin) {
    child.stdin.on('error', () => undefined)
    options.stream.pipe(child.stdin)
  }
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    if (stderr.length < 4 * 1024 * 1024) stderr += chunk
  })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  const errors = classifyErrors(options.secrets.redact(stderr))
  if (code !== 0 && errors.length === 0) {
    throw new BackupError(`${command.split('/').pop()} failed (exit code ${code}): ${options.secrets.redact(stderr.trim().slice(-2000))}`)
  }
  return errors
}
