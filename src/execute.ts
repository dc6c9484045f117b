import { CancelledError, cancelSignal, whenCancelled } from './cancel.js'
import { COMMAND_RUNNERS } from './commands/index.js'
import type { Context } from './commands/context.js'
import { errorMessage } from './errors.js'
import type { Host } from './host.js'
import { readSettings } from './inputs.js'
import { Secrets } from './secrets.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { openStorages } from './storage/index.js'

/**
 * Runs the command the inputs name. Returns the error message (secrets removed)
 * instead of throwing, so each host has exactly one place that reports failure.
 */
export async function execute(host: Host, now: () => Date = () => new Date()): Promise<string | undefined> {
  const secrets = new Secrets()
  secrets.onAdd(value => host.secret(value))
  // Masked before anything can fail, so that not even a malformed URL is ever echoed.
  for (const input of ['database-url', 'target-database-url', 'encryption-passphrase']) secrets.add(host.input(input).trim())
  // Whatever a host prints passes through the redactor (the CLI has no runner to mask it).
  const safe: Host = {
    ...host,
    output: (name, value) => host.output(name, typeof value === 'string' ? secrets.redact(value) : value),
    info: message => host.info(secrets.redact(message)),
    warning: message => host.warning(secrets.redact(message)),
    summary: markdown => host.summary(secrets.redact(markdown))
  }
  const work = (async () => {
    try {
      const settings = readSettings(safe)
      const ctx: Context = { settings, host: safe, secrets, storages: openStorages(settings, host.env), now }
      const outputs = await COMMAND_RUNNERS[settings.command](ctx)
      for (const [name, value] of Object.entries(outputs)) host.output(name, value)
      return undefined
    } catch (error) {
      return error instanceof CancelledError || cancelSignal.aborted ? cancelledMessage() : secrets.redact(errorMessage(error))
    }
  })()
  // A cancelled command fails however it ends: once everything is stopped and removed,
  // it gets a moment to unwind (its own cleanup), then the run is reported as cancelled.
  const stopped = new AbortController()
  const cancelled = whenCancelled(stopped.signal).then(async () => {
    await Promise.race([work, sleep(UNWIND_MS)])
    return cancelledMessage()
  })
  try {
    return await Promise.race([work, cancelled])
  } finally {
    stopped.abort()
  }
}

const UNWIND_MS = 1500

function cancelledMessage(): string {
  const { signal } = cancelSignal.reason as CancelledError
  return `Cancelled by ${signal}: every program was stopped, uploads were aborted and temporary files removed; nothing more was written`
}
