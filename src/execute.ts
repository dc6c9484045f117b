import { COMMAND_RUNNERS } from './commands/index.js'
import type { Context } from './commands/context.js'
import { BackupError, errorMessage, InputError } from './errors.js'
import type { Host } from './host.js'
import { readSettings } from './inputs.js'
import { Secrets } from './secrets.js'
import { openStorages } from './storage/index.js'

/** Inputs that hold secrets: masked before any input is parsed, so not even a malformed one is ever echoed. */
export const SECRET_INPUTS = [
  'database-url',
  'target-database-url',
  'encryption-passphrase',
  'encryption-private-key',
  'supabase-access-token',
  'buckets-access-key-id',
  'buckets-secret-access-key',
  'buckets-restore-access-key-id',
  'buckets-restore-secret-access-key',
  'github-token'
]

/**
 * Runs the command the inputs name. Returns the error message (secrets removed)
 * instead of throwing, so each host has exactly one place that reports failure.
 */
export async function execute(host: Host, now: () => Date = () => new Date(), sleep: (ms: number) => Promise<void> = realSleep): Promise<string | undefined> {
  const secrets = new Secrets()
  secrets.onAdd(value => host.secret(value))
  for (const input of SECRET_INPUTS) secrets.add(host.input(input).trim())
  // Each private key on its own too: an identity file holds them among comments.
  for (const word of host.input('encryption-private-key').split(/\s+/)) if (word.startsWith('AGE-SECRET-KEY-')) secrets.add(word)
  const safe = redactingHost(host, secrets)
  try {
    const settings = readSettings(safe)
    const ctx: Context = { settings, host: safe, secrets, storages: openStorages(settings, host.env), now, sleep }
    const outputs = await COMMAND_RUNNERS[settings.command](ctx)
    for (const [name, value] of Object.entries(outputs)) safe.output(name, value)
    return undefined
  } catch (error) {
    if (error instanceof InputError || error instanceof BackupError) return secrets.redact(errorMessage(error))
    // Anything else is a defect in the action, not in the user's setup: keep the trace for the report.
    safe.debug(error instanceof Error && error.stack ? error.stack : String(error))
    return secrets.redact(`${errorMessage(error)} (this is a bug in pg-backup-action, please report it; the stack trace is in the debug log)`)
  }
}

const realSleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

/** Every byte a host prints passes through the redactor (the CLI has no runner to mask it). */
export function redactingHost(host: Host, secrets: Secrets): Host {
  const redact = (value: string | number | boolean) => (typeof value === 'string' ? secrets.redact(value) : value)
  return {
    ...host,
    output: (name, value) => host.output(name, redact(value)),
    info: message => host.info(secrets.redact(message)),
    warning: message => host.warning(secrets.redact(message)),
    debug: message => host.debug(secrets.redact(message)),
    summary: markdown => host.summary(secrets.redact(markdown))
  }
}
