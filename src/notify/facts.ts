import type { Outputs } from '../commands/index.js'

/** How a monitor check (or any check a command reports) came out. */
export type CheckStatus = 'pass' | 'warn' | 'fail'

/** What a run did, as every notification tells it. Built from the command's outputs, never from its internals. */
export interface RunFacts {
  command: string
  /** The backup set, when the inputs name it or the database URL does. */
  set?: string
  kind?: string
  outcome: 'success' | 'failure'
  backupId?: string
  sizeBytes?: number
  durationSeconds: number
  verified?: boolean
  /** A drill's verdict (the `report` output of drill). */
  drillPassed?: boolean
  /** The checks of a `report` output that has them (monitor). */
  checks: Array<{ name: string; status: CheckStatus; detail: string }>
  /** The failure, already redacted. */
  error?: string
  runUrl?: string
  repository?: string
  startedAt: Date
  finishedAt: Date
}

/** A run people should hear of under `notify-on: failure`: it failed, or a check warned. */
export function needsAttention(facts: RunFacts): boolean {
  return facts.outcome === 'failure' || facts.checks.some(c => c.status !== 'pass')
}

/** Reads the facts out of a command's outputs (standard names: backup-id, size-bytes, verified, report). */
export function factsFrom(
  outputs: Outputs,
  run: { command: string; set?: string; kind?: string; error?: string; startedAt: Date; finishedAt: Date; env: NodeJS.ProcessEnv }
): RunFacts {
  const { env } = run
  const report = parseReport(outputs.report)
  const size = Number(outputs['size-bytes'])
  return {
    command: run.command,
    set: run.set,
    kind: run.kind,
    outcome: run.error === undefined ? 'success' : 'failure',
    backupId: typeof outputs['backup-id'] === 'string' && outputs['backup-id'] ? outputs['backup-id'] : undefined,
    sizeBytes: outputs['size-bytes'] !== undefined && Number.isFinite(size) ? size : undefined,
    durationSeconds: (run.finishedAt.getTime() - run.startedAt.getTime()) / 1000,
    verified: outputs.verified === undefined ? undefined : String(outputs.verified) === 'true',
    drillPassed: typeof report?.passed === 'boolean' ? report.passed : undefined,
    checks: Array.isArray(report?.checks) ? (report.checks as RunFacts['checks']) : [],
    error: run.error,
    runUrl:
      env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
        ? `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
        : undefined,
    repository: env.GITHUB_REPOSITORY,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt
  }
}

function parseReport(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'string') return undefined
  try {
    const parsed: unknown = JSON.parse(value)
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** One line that says what happened: the Slack fallback text, the heartbeat body, the issue title's tail. */
export function headline(facts: RunFacts): string {
  const what = `${facts.command}${facts.set ? ` of ${facts.set}` : ''}`
  if (facts.outcome === 'failure') return `${what} FAILED`
  return facts.checks.some(c => c.status === 'warn') ? `${what} passed with warnings` : `${what} succeeded`
}
