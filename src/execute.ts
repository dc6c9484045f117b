import { COMMAND_RUNNERS, type Outputs } from './commands/index.js'
import { configuredSetName, type Context } from './commands/context.js'
import { errorMessage, FailureWithOutputs } from './errors.js'
import type { Host } from './host.js'
import { readNotifySettings, readSettings, SECRET_INPUTS, type NotifySettings, type Settings } from './inputs.js'
import { DEFAULT_LIMITS, factsFrom, Notifier, type DeliveryLimits } from './notify/index.js'
import { Secrets } from './secrets.js'
import { openStorages } from './storage/index.js'

/**
 * Runs the command the inputs name, then tells people how it went (src/notify). Returns the
 * error message (secrets removed) instead of throwing, so each host has exactly one place that
 * reports failure; notifications never change it.
 */
export async function execute(host: Host, now: () => Date = () => new Date(), limits: DeliveryLimits = DEFAULT_LIMITS): Promise<string | undefined> {
  const secrets = new Secrets()
  secrets.onAdd(value => host.secret(value))
  // Masked before anything can fail, so that not even a malformed URL is ever echoed.
  for (const input of SECRET_INPUTS) secrets.add(host.input(input).trim())
  // Whatever a host prints passes through the redactor (the CLI has no runner to mask it).
  const safe: Host = {
    ...host,
    output: (name, value) => host.output(name, typeof value === 'string' ? secrets.redact(value) : value),
    info: message => host.info(secrets.redact(message)),
    warning: message => host.warning(secrets.redact(message)),
    summary: markdown => host.summary(secrets.redact(markdown))
  }
  const startedAt = new Date()
  let notifier: Notifier | undefined
  let ctx: Context | undefined
  let outputs: Outputs = {}
  let failure: string | undefined
  try {
    // Read first and apart, so that a run failing on any other input still reports it.
    notifier = notifierFor(readNotifySettings(safe), safe, secrets, limits)
    notifier?.start()
    const settings: Settings = readSettings(safe)
    ctx = { settings, host: safe, secrets, storages: openStorages(settings, host.env), now }
    outputs = await COMMAND_RUNNERS[settings.command](ctx)
  } catch (error) {
    failure = secrets.redact(errorMessage(error))
    if (error instanceof FailureWithOutputs) outputs = error.outputs
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
