import { setTimeout as delay } from 'node:timers/promises'
import { CancelledError, cancelSignal, whenCancelled } from './cancel.js'
import { COMMAND_RUNNERS, type Outputs } from './commands/index.js'
import { configuredSetName, type Context } from './commands/context.js'
import { BackupError, errorMessage, FailureWithOutputs, InputError } from './errors.js'
import type { Host } from './host.js'
import { readNotifySettings, readSettings, type NotifySettings } from './inputs.js'
import { DEFAULT_LIMITS, factsFrom, Notifier, type DeliveryLimits } from './notify/index.js'
import { Secrets } from './secrets.js'
import { openStorages } from './storage/index.js'

/** Inputs that hold secrets: masked before any input is parsed, so not even a malformed one is ever echoed. */
export const SECRET_INPUTS = [
  'database-url',
  'target-database-url',
  'encryption-passphrase',
  'slack-webhook-url',
  'webhook-url',
  'heartbeat-url',
  'github-token',
  'encryption-private-key',
  'supabase-access-token',
  'buckets-access-key-id',
  'buckets-secret-access-key',
  'buckets-restore-access-key-id',
  'buckets-restore-secret-access-key',
  'github-token'
]

/**
 * Runs the command the inputs name, then tells people how it went (src/notify). Returns the
 * error message (secrets removed) instead of throwing, so each host has exactly one place that
 * reports failure; notifications never change it.
 */
export async function execute(
  host: Host,
  now: () => Date = () => new Date(),
  sleep: (ms: number) => Promise<void> = ms => delay(ms),
  limits: DeliveryLimits = DEFAULT_LIMITS
): Promise<string | undefined> {
  const secrets = new Secrets()
  secrets.onAdd(value => host.secret(value))
  for (const input of SECRET_INPUTS) secrets.add(host.input(input).trim())
  // Each private key on its own too: an identity file holds them among comments.
  for (const word of host.input('encryption-private-key').split(/\s+/)) if (word.startsWith('AGE-SECRET-KEY-')) secrets.add(word)
  const safe = redactingHost(host, secrets)
  const startedAt = new Date()
  let notifier: Notifier | undefined
  let ctx: Context | undefined
  let outputs: Outputs = {}
  const work = (async (): Promise<string | undefined> => {
    try {
      // Read first and apart, so that a run failing on any other input still reports it.
      notifier = notifierFor(readNotifySettings(safe), safe, secrets, limits)
      notifier?.start()
      const settings = readSettings(safe)
      ctx = { settings, host: safe, secrets, storages: openStorages(settings, host.env), now, sleep }
      outputs = await COMMAND_RUNNERS[settings.command](ctx)
      return undefined
    } catch (error) {
      if (error instanceof FailureWithOutputs) outputs = error.outputs
      return failureMessage(error, safe, secrets)
    }
  })()
  // A cancelled command fails however it ends: once everything is stopped and removed,
  // it gets a moment to unwind (its own cleanup), then the run is reported as cancelled.
  const finished = new AbortController()
  const cancelled = whenCancelled(finished.signal).then(async () => {
    await Promise.race([work, delay(UNWIND_MS)])
    return cancelledMessage()
  })
  let failure: string | undefined
  try {
    failure = await Promise.race([work, cancelled])
  } finally {
    finished.abort()
  }
  for (const [name, value] of Object.entries(outputs)) safe.output(name, value)
  if (notifier) {
    const facts = factsFrom(outputs, {
      command: ctx?.settings.command ?? (host.input('command').trim() || 'backup'),
      set: ctx ? setNameOf(ctx) : host.input('name').trim() || undefined,
      kind: ctx?.settings.kind,
      error: failure,
      startedAt,
      finishedAt: new Date(),
      env: host.env
    })
    const notified = await notifier.finish(facts)
    if (notified !== undefined) safe.output('notified', notified)
  }
  return failure
}

const UNWIND_MS = 1500

function cancelledMessage(): string {
  const { signal } = cancelSignal.reason as CancelledError
  return `Cancelled by ${signal}: every program was stopped, uploads were aborted and temporary files removed; nothing more was written`
}

function failureMessage(error: unknown, safe: Host, secrets: Secrets): string {
  if (error instanceof CancelledError || cancelSignal.aborted) return cancelledMessage()
  if (error instanceof InputError || error instanceof BackupError) return secrets.redact(errorMessage(error))
  // Anything else is a defect in the action, not in the user's setup: keep the trace for the report.
  safe.debug(error instanceof Error && error.stack ? error.stack : String(error))
  return secrets.redact(`${errorMessage(error)} (this is a bug in pg-backup-action, please report it; the stack trace is in the debug log)`)
}

function notifierFor(settings: NotifySettings, host: Host, secrets: Secrets, limits: DeliveryLimits): Notifier | undefined {
  const any = settings.slackWebhookUrl || settings.webhookUrl || settings.heartbeatUrl || settings.issue
  return any ? new Notifier(settings, host, secrets, limits) : undefined
}

/** The set the run was about, when it can be told without connecting anywhere. */
function setNameOf(ctx: Context): string | undefined {
  try {
    return configuredSetName(ctx)
  } catch {
    return undefined
  }
}

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
