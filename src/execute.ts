import { COMMAND_RUNNERS } from './commands/index.js'
import type { Context } from './commands/context.js'
import { errorMessage } from './errors.js'
import type { Host } from './host.js'
import { readSettings } from './inputs.js'
import { Secrets } from './secrets.js'
import { openStorages } from './storage/index.js'

/**
 * Runs the command the inputs name. Returns the error message (secrets removed)
 * instead of throwing, so each host has exactly one place that reports failure.
 */
export async function execute(host: Host, now: () => Date = () => new Date()): Promise<string | undefined> {
  const secrets = new Secrets()
  secrets.onAdd(value => host.secret(value))
  // Masked before anything can fail, so that not even a malformed URL is ever echoed.
  for (const input of ['database-url', 'target-database-url', 'encryption-passphrase', 'github-token']) secrets.add(host.input(input).trim())
  // Whatever a host prints passes through the redactor (the CLI has no runner to mask it).
  const safe: Host = {
    ...host,
    output: (name, value) => host.output(name, typeof value === 'string' ? secrets.redact(value) : value),
    info: message => host.info(secrets.redact(message)),
    warning: message => host.warning(secrets.redact(message)),
    summary: markdown => host.summary(secrets.redact(markdown))
  }
  try {
    const settings = readSettings(safe)
    const ctx: Context = { settings, host: safe, secrets, storages: openStorages(settings, host.env), now }
    const outputs = await COMMAND_RUNNERS[settings.command](ctx)
    for (const [name, value] of Object.entries(outputs)) host.output(name, value)
    return undefined
  } catch (error) {
    return secrets.redact(errorMessage(error))
  }
}
