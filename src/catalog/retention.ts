/**
 * Pure retention planner: given backups and a `--keep-*` policy, decide which to keep and why.
 * No I/O — callers list backups, call `planRetention`, then delete what it marks `keep: false`.
 *
 * Semantics follow restic `forget --keep-*`, which users already know:
 * - Rules OR together: a backup survives if any rule keeps it.
 * - Calendar rules (hourly … yearly, N): keep the newest backup in each of the N most recent
 *   UTC units (ISO-8601 week for weekly) that contain backups.
 * - `last N` keeps the N newest.
 * - `within D` keeps backups less than D older than the NEWEST backup (not "now"), like restic,
 *   so a set whose backups stopped (broken cron, paused project) is not wiped out by age alone.
 * - The newest backup is always kept ('newest'); pinned backups are always kept ('pinned').
 *
 * Deliberate differences from restic:
 * - Pinned backups are left out of the count-based walks (last and calendar rules), so pinning an
 *   old backup never costs a slot a regular backup would have used. (`within` has no slots, so it
 *   still applies to them and they can list 'within' too.)
 * - restic ≥ 0.15 additionally keeps the oldest backup when a rule has slots left over; we do not:
 *   a rule keeps exactly the newest backup of each of its N most recent units.
 */

export interface RetentionPolicy {
  last?: number
  hourly?: number
  daily?: number
  weekly?: number
  monthly?: number
  yearly?: number
  /** keep-within, already parsed (ms); 0 or absent = off */
  withinMs?: number
}

export type KeepReason = 'last' | 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly' | 'within' | 'pinned' | 'newest'

export interface Candidate {
  id: string
  time: Date
  pinned?: boolean
}

export interface Decision {
  id: string
  time: Date
  keep: boolean
  /** why it is kept, in KeepReason order; empty when deleted */
  reasons: KeepReason[]
}

const REASON_ORDER: readonly KeepReason[] = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly', 'within', 'pinned', 'newest']

const COUNT_RULES = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const
type CountRule = (typeof COUNT_RULES)[number]

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

/** ISO-8601 week as isoYear * 100 + week: the week belongs to the year of its Thursday. */
function isoWeekKey(time: Date): number {
  const mondayBased = (time.getUTCDay() + 6) % 7
  const thursday = new Date(Math.floor(time.getTime() / DAY_MS) * DAY_MS + (3 - mondayBased) * DAY_MS)
  const isoYear = thursday.getUTCFullYear()
  const dayOfYear = Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / DAY_MS)
  return isoYear * 100 + Math.floor(dayOfYear / 7) + 1
}

/** The unit a backup falls into for each rule; `last` puts every backup in its own unit. */
const UNIT: Record<CountRule, (time: Date, index: number) => number> = {
  last: (_time, index) => index,
  hourly: time => Math.floor(time.getTime() / HOUR_MS),
  daily: time => Math.floor(time.getTime() / DAY_MS),
  weekly: isoWeekKey,
  monthly: time => time.getUTCFullYear() * 12 + time.getUTCMonth(),
  yearly: time => time.getUTCFullYear()
}

/** True when the policy would keep something by rule (counts > 0 or a keep-within window). */
export function hasKeepRule(policy: RetentionPolicy): boolean {
  return COUNT_RULES.some(rule => (policy[rule] ?? 0) > 0) || (policy.withinMs ?? 0) > 0
}

function validate(candidates: readonly Candidate[], policy: RetentionPolicy): void {
  for (const rule of COUNT_RULES) {
    const n = policy[rule]
    if (n !== undefined && !(Number.isSafeInteger(n) && n >= 0)) {
      throw new Error(`retention: keep-${rule} must be a non-negative integer, got ${n}`)
    }
  }
  const within = policy.withinMs
  if (within !== undefined && !(Number.isFinite(within) && within >= 0)) {
    throw new Error(`retention: keep-within must be a non-negative duration, got ${within}`)
  }
  // Refuse to prune without a rule: an empty policy would otherwise delete everything but the newest.
  if (!hasKeepRule(policy)) {
    throw new Error('retention: no keep rule given (set at least one of last, hourly, daily, weekly, monthly, yearly, within); refusing to prune')
  }
  for (const c of candidates) {
    if (Number.isNaN(c.time.getTime())) throw new Error(`retention: backup ${c.id} has an invalid time`)
  }
}

/** Decide keep/delete for every candidate; result is sorted newest first (ties: id descending). */
export function planRetention(candidates: readonly Candidate[], policy: RetentionPolicy): Decision[] {
  validate(candidates, policy)
  const sorted = [...candidates].sort((a, b) => b.time.getTime() - a.time.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
  const reasons = sorted.map(() => new Set<KeepReason>())

  // Count-based rules walk the unpinned backups newest → oldest, keeping the first of each new unit.
  const walk = sorted.map((c, i) => ({ c, i })).filter(({ c }) => c.pinned !== true)
  for (const rule of COUNT_RULES) {
    let left = policy[rule] ?? 0
    let lastUnit: number | undefined
    for (const [walkIndex, { c, i }] of walk.entries()) {
      if (left === 0) break
      const unit = UNIT[rule](c.time, walkIndex)
      if (unit === lastUnit) continue
      lastUnit = unit
      left--
      reasons[i].add(rule)
    }
  }

  const withinMs = policy.withinMs ?? 0
  sorted.forEach((c, i) => {
    // Measured from the newest backup, not from now (see header): strict, like restic.
    if (withinMs > 0 && sorted[0].time.getTime() - c.time.getTime() < withinMs) reasons[i].add('within')
    if (c.pinned === true) reasons[i].add('pinned')
    if (i === 0) reasons[i].add('newest')
  })

  return sorted.map((c, i) => {
    const why = REASON_ORDER.filter(r => reasons[i].has(r))
    return { id: c.id, time: c.time, keep: why.length > 0, reasons: why }
  })
}

const UNIT_MS: Record<string, number> = { y: 365 * DAY_MS, w: 7 * DAY_MS, d: DAY_MS, h: HOUR_MS, m: 60_000 }
const DURATION_HINT = 'expected a duration such as 30d, 12h or 1w2d (units: y, w, d, h, m)'

/**
 * Parse a keep-within duration to ms. Grammar: one or more `<digits><unit>` with no spaces or signs,
 * units `y` (365 days), `w`, `d`, `h`, `m` (minutes), lowercase; e.g. `30d`, `36h`, `1y6w`.
 * No months (`m` is minutes) and no fractions, so every value is unambiguous. Zero total is rejected.
 */
export function parseDuration(text: string): number {
  if (!/^(?:\d+[ywdhm])+$/.test(text)) throw new Error(`invalid duration "${text}": ${DURATION_HINT}`)
  let total = 0
  for (const [, digits, unit] of text.matchAll(/(\d+)([ywdhm])/g)) total += Number(digits) * UNIT_MS[unit]
  if (total === 0 || !Number.isSafeInteger(total)) throw new Error(`invalid duration "${text}": ${DURATION_HINT}`)
  return total
}
