import type { RunFacts } from './facts.js'

/**
 * The `webhook-url` payload, version 1 (documented in the README, "Alerts"). Receivers check
 * `type` and `version`; within a version fields are only ever added, never renamed or
 * retyped. Absent facts are null rather than missing, so every key is always there.
 */
export const WEBHOOK_VERSION = 1

export interface WebhookPayload {
  type: 'pg-backup-action.run'
  version: typeof WEBHOOK_VERSION
  outcome: 'success' | 'failure'
  /** true when the run failed or a check warned: what `notify-on: failure` reports. */
  attention: boolean
  command: string
  set: string | null
  kind: string | null
  backupId: string | null
  sizeBytes: number | null
  durationSeconds: number
  verified: boolean | null
  drillPassed: boolean | null
  checks: Array<{ name: string; status: 'pass' | 'warn' | 'fail'; detail: string }>
  error: string | null
  run: { url: string; repository: string } | null
  startedAt: string
  finishedAt: string
}

export function webhookPayload(facts: RunFacts, attention: boolean): WebhookPayload {
  return {
    type: 'pg-backup-action.run',
    version: WEBHOOK_VERSION,
    outcome: facts.outcome,
    attention,
    command: facts.command,
    set: facts.set ?? null,
    kind: facts.kind ?? null,
    backupId: facts.backupId ?? null,
    sizeBytes: facts.sizeBytes ?? null,
    durationSeconds: Math.round(facts.durationSeconds * 10) / 10,
    verified: facts.verified ?? null,
    drillPassed: facts.drillPassed ?? null,
    checks: facts.checks,
    error: facts.error ?? null,
    run: facts.runUrl && facts.repository ? { url: facts.runUrl, repository: facts.repository } : null,
    startedAt: facts.startedAt.toISOString(),
    finishedAt: facts.finishedAt.toISOString()
  }
}
