import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import type { Readable } from 'node:stream'
import type { RestoreError } from '../model/drill-report.js'
import { BackupError } from '../errors.js'
import type { Format } from '../model/vocabulary.js'
import type { Secrets } from '../secrets.js'
import { childEnv, libpqEnv, type Connection } from './connection.js'
import { isPlatformOwner, isReservedRole, PLATFORM_EXTENSIONS, PLATFORM_SCHEMAS } from './platform.js'
import { tocById, type TocEntry } from './toc.js'
import type { ClientTools } from './tools.js'

const run = promisify(execFile)

/** Where an error came from: pg_restore --verbose names the TOC entry before each error. */
export interface ErrorContext {
  /** The archive's entries by dump id (pg_restore --list). */
  toc: Map<number, TocEntry>
  /** --clean ran: drops of sub-objects that go with their table anyway may fail. */
  clean?: boolean
}

/** Sub-objects a DROP TABLE removes with their table. */
const DROPPED_WITH_TABLE = new Set(['CONSTRAINT', 'FK CONSTRAINT', 'INDEX', 'DEFAULT', 'TRIGGER', 'POLICY', 'ROW SECURITY', 'PUBLICATION TABLE'])

/**
 * Why an error in this entry is harmless, or undefined when it is not (pure). Decided by what
 * failed (the entry's type, owner and schema, and the kind of command), never by the message:
 * only ownership changes to platform roles, privileges on platform objects, the platform's own
 * extensions and event triggers, and a clean's drops of sub-objects may fail. A POLICY,
 * FUNCTION, TABLE, TABLE DATA, INDEX, CONSTRAINT or TRIGGER that fails to be created never may.
 */
export function expectedBecause(entry: TocEntry | undefined, command: string, clean = false): string | undefined {
  if (!entry) return undefined
  const platformOwned = PLATFORM_SCHEMAS.has(entry.schema) || isPlatformOwner(entry.owner)
  if (/^ALTER .+ OWNER TO /.test(command) && isReservedRole(entry.owner)) return 'ownership by a platform role'
  if ((entry.desc === 'ACL' || entry.desc === 'DEFAULT ACL') && platformOwned) return 'privileges on a platform object'
  const extension = entry.desc === 'EXTENSION' ? entry.tag : entry.desc === 'COMMENT' ? /^EXTENSION (.+)$/.exec(entry.tag)?.[1] : undefined
  if (extension && PLATFORM_EXTENSIONS.has(extension.replace(/^"|"$/g, ''))) return 'platform extension the target lacks'
  if (entry.desc === 'EVENT TRIGGER' && isPlatformOwner(entry.owner)) return 'platform event trigger'
  if (clean && DROPPED_WITH_TABLE.has(entry.desc) && /^(DROP |ALTER TABLE (IF EXISTS )?(ONLY )?\S+ DROP |ALTER PUBLICATION \S+ DROP TABLE )/.test(command))
    return 'clean: dropped with its table'
  return undefined
}

/**
 * Splits pg_restore/psql stderr into errors, marking the ones a restore expects (pure).
 * Only the server's ERROR line is kept, never the failed SQL ("Command was: …"), which
 * may hold secrets such as a user mapping's password; an error without its TOC entry
 * (psql, or pg_restore without --verbose) is unexpected.
 */
export function classifyErrors(stderr: string, context: ErrorContext = { toc: new Map() }): RestoreError[] {
  const errors: RestoreError[] = []
  let entry: TocEntry | undefined
  for (const block of stderr.split(/\n(?=pg_restore: |psql:)/)) {
    const lines = block.split('\n')
    const line = lines[0]
    const from = /^pg_restore: from TOC entry (\d+);/.exec(line)
    if (from) {
      entry = context.toc.get(Number(from[1]))
      continue
    }
    const server = /ERROR:\s+(.*)$/.exec(line)
    const command = lines.find(l => l.startsWith('Command was: '))?.slice('Command was: '.length) ?? ''
    const where = entry ? describeEntry(entry) : undefined
    if (server) {
      const message = redactSqlSecrets(server[1].trim()).slice(0, 500)
      const reason = expectedBecause(entry, command, context.clean)
      errors.push({ message, ...(where ? { entry: where } : {}), ...(reason ? { expected: reason } : {}) })
    } else if (/^pg_restore: error: |^psql:.*(FATAL|error):/.test(line)) {
      errors.push({ message: redactSqlSecrets(line.replace(/^pg_restore: error: /, '')).slice(0, 500), ...(where ? { entry: where } : {}) })
    }
    entry = undefined
  }
  return errors
}

/** "POLICY public.todos own rows", "ACL TABLE auth.users": an entry as a person reads it. */
function describeEntry(e: TocEntry): string {
  if (e.schema === '-') return `${e.desc} ${e.tag}`
  if (e.desc === 'ACL' || e.desc === 'COMMENT' || e.desc === 'SECURITY LABEL') return `${e.desc} ${e.tag.replace(/^([A-Z]+(?: [A-Z]+)?) /, `$1 ${e.schema}.`)}`
  return `${e.desc} ${e.schema}.${e.tag}`
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
  /** pg_restore only: the archive's entries by dump id, to say which one each error came from. */
  toc?: Map<number, TocEntry>
  /** pg_restore only: --use-list, the entries to restore. */
  list?: string
  /** Settings for the restoring sessions (PGOPTIONS), such as session_replication_role=replica. */
  sessionOptions?: string
}

/** The archive's table of contents (pg_restore --list). */
export async function listArchive(tools: ClientTools, file: string): Promise<{ text: string; entries: Map<number, TocEntry> }> {
  const { stdout } = await run(tools.bin('pg_restore'), ['--list', file], { env: childEnv(), maxBuffer: 256 * 1024 * 1024 })
  return { text: stdout, entries: tocById(stdout) }
}

// pg_restore --verbose narrates every step; only errors, their entries and their context matter.
const NARRATION = /^pg_restore: (?!from TOC entry|error|warning|while)/

/**
 * Runs pg_restore (custom, --verbose so each error names its entry) or psql (plain) against
 * the target and returns every error it reported. Fails outright only when the tool could not run at all.
 */
export async function restoreArchive(options: RestoreOptions): Promise<RestoreError[]> {
  const env = childEnv(libpqEnv(options.target))
  if (options.sessionOptions) env.PGOPTIONS = [env.PGOPTIONS, options.sessionOptions].filter(Boolean).join(' ')
  let command: string
  let args: string[]
  if (options.format === 'custom') {
    command = options.tools.bin('pg_restore')
    args = ['--no-password', '--verbose', `--dbname=${options.target.database ?? ''}`]
    if (options.file && options.jobs > 1) args.push(`--jobs=${options.jobs}`)
    if (options.clean) args.push('--clean', '--if-exists')
    if (options.list) args.push(`--use-list=${options.list}`)
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
  let partial = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) if (!NARRATION.test(line) && stderr.length < 4 * 1024 * 1024) stderr += `${line}\n`
  })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  stderr += partial
  const errors = classifyErrors(options.secrets.redact(stderr), { toc: options.toc ?? new Map(), clean: options.clean })
  if (code !== 0 && errors.length === 0) {
    throw new BackupError(`${command.split('/').pop()} failed (exit code ${code}): ${options.secrets.redact(stderr.trim().slice(-2000))}`)
  }
  return errors
}
