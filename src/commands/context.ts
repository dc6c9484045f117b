import { InputError } from '../errors.js'
import type { Host } from '../host.js'
import type { Settings } from '../inputs.js'
import { parseConnection, type Connection } from '../postgres/connection.js'
import type { DecryptionKeys } from '../pipeline/encryption.js'
import type { Secrets } from '../secrets.js'
import type { Storage } from '../storage/storage.js'

/** What every command gets: validated settings, where it runs, the secrets to hide, the storages. */
export interface Context {
  settings: Settings
  host: Host
  secrets: Secrets
  storages: Storage[]
  now: () => Date
  /** Waits between polls and retries; tests hand a faster one. */
  sleep: (ms: number) => Promise<void>
}

export function sourceConnection(ctx: Context): Connection {
  return parseConnection(ctx.settings.databaseUrl, ctx.host.env, ctx.secrets)
}

/** The backup set's name: the `name` input, else the database's name. */
export function deriveSetName(ctx: Context, conn?: Connection): string {
  const name = ctx.settings.name ?? conn?.database ?? conn?.user
  if (!name) throw new InputError('name', 'could not be derived from database-url; set it')
  return name.replace(/[^A-Za-z0-9._-]/g, '_')
}

/** The set a command reads: `name`, else the database named by database-url or PGDATABASE (no connection made). */
export function configuredSetName(ctx: Context): string {
  if (ctx.settings.name) return ctx.settings.name
  if (!ctx.settings.databaseUrl && !ctx.host.env.PGDATABASE) throw new InputError('name', 'is required (or database-url, whose database names the set)')
  return deriveSetName(ctx, sourceConnection(ctx))
}

/** The storages that can be read back (artifact storage is write-only). */
export function readableStorages(ctx: Context): Storage[] {
  return ctx.storages.filter(s => s.type !== 'artifact')
}

/** The first storage that can be read back: where verify, drill, restore and monitor read. */
export function readableStorage(ctx: Context): Storage {
  const storage = readableStorages(ctx)[0]
  if (!storage) throw new InputError('storage', 'this command reads backups back; include s3 or local')
  return storage
}

/** GitHub's context for the manifest, when running in Actions. */
export function githubContext(env: NodeJS.ProcessEnv): Record<string, string> | undefined {
  if (!env.GITHUB_ACTIONS) return undefined
  const fields: Record<string, string | undefined> = {
    repository: env.GITHUB_REPOSITORY,
    workflow: env.GITHUB_WORKFLOW,
    runId: env.GITHUB_RUN_ID,
    runAttempt: env.GITHUB_RUN_ATTEMPT,
    sha: env.GITHUB_SHA,
    ref: env.GITHUB_REF,
    event: env.GITHUB_EVENT_NAME,
    actor: env.GITHUB_ACTOR,
    serverUrl: env.GITHUB_SERVER_URL
  }
  return Object.fromEntries(Object.entries(fields).filter((e): e is [string, string] => Boolean(e[1])))
}

/** The keys the inputs give for reading encrypted contents. */
export function decryptionKeys(ctx: Context): DecryptionKeys {
  return { passphrase: ctx.settings.encryptionPassphrase, identities: ctx.settings.encryptionPrivateKeys }
}
