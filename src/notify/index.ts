import { errorMessage } from '../errors.js'
import type { Host } from '../host.js'
import type { NotifySettings } from '../inputs.js'
import type { Secrets } from '../secrets.js'
import { DEFAULT_LIMITS, deliver, type DeliveryLimits } from './deliver.js'
import { headline, needsAttention, type RunFacts } from './facts.js'
import { syncIssue } from './github-issue.js'
import { slackMessage } from './slack.js'
import { webhookPayload } from './webhook.js'

export { factsFrom, type RunFacts } from './facts.js'
export { DEFAULT_LIMITS, type DeliveryLimits } from './deliver.js'

/**
 * Tells people how a run went: Slack and the webhook as `notify-on` says, the heartbeat on
 * every run (start, then success or fail), the set's GitHub issue on every run (opened on
 * failure, closed on recovery). All targets go in parallel and each is bounded by `limits`;
 * nothing here throws or changes the run's outcome: a failed delivery is a warning.
 */
export class Notifier {
  private started?: Promise<string | undefined>

  constructor(
    private readonly settings: NotifySettings,
    private readonly host: Host,
    private readonly secrets: Secrets,
    private readonly limits: DeliveryLimits = DEFAULT_LIMITS
  ) {}

  /** Pings `<heartbeat-url>/start` without waiting: the command runs meanwhile. */
  start(): void {
    if (this.settings.heartbeatUrl) this.started = deliver(`${this.settings.heartbeatUrl}/start`, { method: 'POST' }, this.limits)
  }

  /** Sends what is due; resolves true when all of it arrived, false when something did not, undefined when nothing was due. */
  async finish(facts: RunFacts): Promise<boolean | undefined> {
    const { settings, limits } = this
    // Every payload passes the redactor: nothing a secret ever was can leave in one.
    const json = (value: unknown) => ({ method: 'POST' as const, body: this.secrets.redact(JSON.stringify(value)), contentType: 'application/json' })
    const attention = needsAttention(facts)
    const tell = settings.on === 'always' || (settings.on === 'failure' && attention)
    const sends: Array<[string, Promise<string | undefined>]> = []
    if (tell && settings.slackWebhookUrl) sends.push(['Slack', deliver(settings.slackWebhookUrl, json(slackMessage(facts)), limits)])
    if (tell && settings.webhookUrl) sends.push(['webhook', deliver(settings.webhookUrl, json(webhookPayload(facts, attention)), limits)])
    if (settings.heartbeatUrl) sends.push(['heartbeat', this.heartbeat(settings.heartbeatUrl, facts)])
    if (settings.issue) sends.push(['GitHub issue', this.issue(facts)])
    if (sends.length === 0) return undefined
    const started = performance.now()
    const problems = await Promise.all(sends.map(([, sent]) => sent))
    sends.forEach(([target], i) => {
      if (problems[i] !== undefined) this.host.warning(`Notification (${target}) not delivered: ${problems[i]}. The run's outcome is unchanged.`)
    })
    const delivered = sends.filter((_, i) => problems[i] === undefined).map(([target]) => target)
    const took = ((performance.now() - started) / 1000).toFixed(2)
    this.host.info(`Notified ${delivered.join(', ') || 'nobody'} in ${took} s (${delivered.length} of ${sends.length} delivered)`)
    return problems.every(p => p === undefined)
  }

  /** The final ping follows the start ping (a service would otherwise see start after success). */
  private async heartbeat(url: string, facts: RunFacts): Promise<string | undefined> {
    const start = this.started ? await this.started : undefined
    // healthchecks.io keeps a POST body (up to 10 kB) with the ping: the log of what happened.
    const body = this.secrets.redact(`${headline(facts)}${facts.error ? `\n${facts.error}` : ''}${facts.runUrl ? `\n${facts.runUrl}` : ''}`).slice(0, 10_000)
    const end = await deliver(
      facts.outcome === 'failure' ? `${url}/fail` : url,
      { method: 'POST', body, contentType: 'text/plain; charset=utf-8' },
      this.limits
    )
    return [start && `start ping: ${start}`, end].filter(Boolean).join('; ') || undefined
  }

  private async issue(facts: RunFacts): Promise<string | undefined> {
    const { env } = this.host
    if (!facts.set) return 'the backup set has no name (set the name input)'
    try {
      const done = await syncIssue(facts, facts.set, {
        token: this.settings.githubToken ?? '',
        repository: env.GITHUB_REPOSITORY ?? '',
        apiUrl: env.GITHUB_API_URL || 'https://api.github.com',
        signal: AbortSignal.timeout(this.limits.timeoutMs * this.limits.attempts)
      })
      this.host.info(`GitHub issue of ${facts.set}: ${done}`)
      return undefined
    } catch (error) {
      return errorMessage(error)
    }
  }
}
