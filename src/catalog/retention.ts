/**
 * Pure retention planner: given backups and a `--keep-*` policy, decide which to keep and why.
 * No I/O — callers list backups, call `planRetention`, then delete what it marks `keep: false`.
 *
 * Semantics are restic's `forget` (checked against restic's own golden cases in
 * __tests__/unit/restic-policy.test.ts):
 * - Rules OR together: a backup survives if any rule keeps it.
 * - Count rules (last, hourly … yearly, N): walking newest → oldest, keep the first backup of each
 *   new unit (hour, day, ISO-8601 week, month, year on the clock of `timeZone`; `last`: every
 *   backup is its own unit) until N units are taken. N may be unlimited.
 * - The oldest backup is kept too when a count rule still has slots when the walk reaches it, even
 *   though a newer backup already took its unit (restic ≥ 0.16): history is kept as long as it can be.
 * - `within D` keeps backups newer than (reference − D), reference being the newest backup that is
 *   not in the future: a set whose backups stopped (broken cron, paused project) is not wiped out
 *   by age, and a clock-skewed backup stamped ahead cannot move the window forward.
 * - `within-hourly D` … `within-yearly D`: like the count rules, but for every unit inside that
 *   window instead of N units (thinning by age; a broken cron cannot make them reach far back).
 * - `tags`: keep every backup that carries all tags of at least one of the lists.
 * Calendar durations step back on the same clock (`1m` from 18 Jan is 18 Dec), as restic's AddDate.
 *
 * Deliberate differences from restic:
 * - The newest backup is always kept ('newest'), even by a policy that keeps only tagged backups.
 * - Pinned backups are always kept ('pinned') and left out of the walks (count and within-unit
 *   rules), so pinning an old backup never costs a slot or a unit a regular backup would have used.
 *   `within` and `tags` have no slots, so they still apply to them.
 * - Units are counted in one configured time zone (default UTC), not each snapshot's own.
 */

import { subtractDuration, type CalendarDuration } from './duration.js'
import { wallClock, wallMs, type WallClock } from './timezone.js'

/** A count rule's "keep every unit" (restic's -1). */
export const UNLIMITED = Infinity

export interface RetentionPolicy {
  /** Count rules: a non-negative integer or UNLIMITED; 0 or absent = off. */
  last?: number
  hourly?: number
  daily?: number
  weekly?: number
  monthly?: number
  yearly?: number
  within?: CalendarDuration
  withinHourly?: CalendarDuration
  withinDaily?: CalendarDuration
  withinWeekly?: CalendarDuration
  withinMonthly?: CalendarDuration
  withinYearly?: CalendarDuration
  /** keep-tag: each entry is a list of tags a backup must all carry; any entry keeps it. */
  tags?: string[][]
}

export interface PlanOptions {
  /** Backups stamped after this are not used as the keep-within reference; absent = none is in the future. */
  now?: Date
  /** IANA zone whose clock defines hours, days, weeks, months and years; default UTC. */
  timeZone?: string
}

export type KeepReason =
  | 'last'
  | 'hourly'
  | 'daily'
  | 'weekly'
  | 'monthly'
  | 'yearly'
  | 'within'
  | 'within-hourly'
  | 'within-daily'
  | 'within-weekly'
  | 'within-monthly'
  | 'within-yearly'
  /** kept as the oldest backup while a rule above (listed with it) still had room */
  | 'oldest'
  | 'tag'
  | 'pinned'
  | 'newest'

export interface Candidate {
  id: string
  time: Date
  pinned?: boolean
  tags?: readonly string[]
}

export interface Decision {
  id: string
  time: Date
  keep: boolean
  /** why it is kept, in KeepReason order; empty when deleted */
  reasons: KeepReason[]
}

const COUNT_RULES = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const
type CountRule = (typeof COUNT_RULES)[number]
const WITHIN_RULES = ['withinHourly', 'withinDaily', 'withinWeekly', 'withinMonthly', 'withinYearly'] as const
type WithinRule = (typeof WITHIN_RULES)[number]
type CalendarUnit = Exclude<CountRule, 'last'>

const WITHIN_UNIT: Record<WithinRule, CalendarUnit> = {
  withinHourly: 'hourly',
  withinDaily: 'daily',
  withinWeekly: 'weekly',
  withinMonthly: 'monthly',
  withinYearly: 'yearly'
}

const REASON_ORDER: readonly KeepReason[] = [
  ...COUNT_RULES,
  'within',
  'within-hourly',
  'within-daily',
  'within-weekly',
  'within-monthly',
  'within-yearly',
  'oldest',
  'tag',
  'pinned',
  'newest'
]

const DAY_MS = 86_400_000

/** ISO-8601 week as isoYear * 100 + week: the week belongs to the year of its Thursday. */
function isoWeekKey(w: WallClock): number {
  const day = wallMs(w.year, w.month, w.day)
  const mondayBased = (new Date(day).getUTCDay() + 6) % 7
  const thursday = new Date(day + (3 - mondayBased) * DAY_MS)
  const isoYear = thursday.getUTCFullYear()
  const dayOfYear = Math.round((thursday.getTime() - wallMs(isoYear, 1, 1)) / DAY_MS)
  return isoYear * 100 + Math.floor(dayOfYear / 7) + 1
}

/** The unit a backup falls into, read off the wall clock. */
const UNIT: Record<CalendarUnit, (w: WallClock) => number> = {
  hourly: w => ((w.year * 100 + w.month) * 100 + w.day) * 100 + w.hour,
  daily: w => (w.year * 100 + w.month) * 100 + w.day,
  weekly: isoWeekKey,
  monthly: w => w.year * 100 + w.month,
  yearly: w => w.year
}

const isSet = (d: CalendarDuration | undefined): d is CalendarDuration => d !== undefined && Object.values(d).some(n => n !== 0)

/** True when the policy would keep something by rule (a count > 0, a within window or a tag list). */
export function hasKeepRule(policy: RetentionPolicy): boolean {
  return (
    COUNT_RULES.some(rule => (policy[rule] ?? 0) > 0) ||
    isSet(policy.within) ||
    WITHIN_RULES.some(rule => isSet(policy[rule])) ||
    (policy.tags ?? []).some(list => list.length > 0)
  )
}

function validate(candidates: readonly Candidate[], policy: RetentionPolicy): void {
  for (const rule of COUNT_RULES) {
    const n = policy[rule]
    if (n !== undefined && n !== UNLIMITED && !(Number.isSafeInteger(n) && n >= 0)) {
      throw new Error(`retention: keep-${rule} must be a non-negative integer or unlimited, got ${n}`)
    }
  }
  for (const rule of ['within', ...WITHIN_RULES] as const) {
    const d = policy[rule]
    if (d && !Object.values(d).every(n => Number.isSafeInteger(n) && n >= 0)) {
      throw new Error(`retention: ${rule} must count whole, non-negative units, got ${JSON.stringify(d)}`)
    }
  }
  // Refuse to prune without a rule: an empty policy would otherwise delete everything but the newest.
  if (!hasKeepRule(policy)) {
    throw new Error('retention: no keep rule given (set at least one keep-* rule); refusing to prune')
  }
  for (const c of candidates) {
    if (Number.isNaN(c.time.getTime())) throw new Error(`retention: backup ${c.id} has an invalid time`)
  }
}

/**
 * Walks `walk` (newest first) keeping the first backup of each new unit while `left` > 0, and the
 * set's oldest backup if room is left when the walk reaches it although its unit was taken already.
 */
function walkUnits(
  walk: readonly number[],
  unitOf: (i: number, step: number) => number,
  left: number,
  oldest: number,
  keep: (i: number, asOldest: boolean) => void
) {
  let lastUnit: number | undefined
  for (const [step, i] of walk.entries()) {
    if (left <= 0) break
    const unit = unitOf(i, step)
    if (unit === lastUnit && i !== oldest) continue
    keep(i, unit === lastUnit)
    lastUnit = unit
    left--
  }
}

/** Decide keep/delete for every candidate; result is sorted newest first (ties: id descending). */
export function planRetention(candidates: readonly Candidate[], policy: RetentionPolicy, options: PlanOptions = {}): Decision[] {
  validate(candidates, policy)
  if (candidates.length === 0) return []
  const timeZone = options.timeZone ?? 'UTC'
  const sorted = [...candidates].sort((a, b) => b.time.getTime() - a.time.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
  const clocks = sorted.map(c => wallClock(c.time, timeZone))
  const reasons = sorted.map(() => new Set<KeepReason>())
  const keepAs = (reason: KeepReason) => (i: number, oldest: boolean) => {
    reasons[i].add(reason)
    if (oldest) reasons[i].add('oldest')
  }

  // The walks skip pinned backups (kept anyway), so they never take a slot or a unit.
  const walk = sorted.flatMap((c, i) => (c.pinned === true ? [] : [i]))
  const oldest = walk[walk.length - 1]
  for (const rule of COUNT_RULES) {
    const unitOf = rule === 'last' ? (_i: number, step: number) => step : (i: number) => UNIT[rule](clocks[i])
    walkUnits(walk, unitOf, policy[rule] ?? 0, oldest, keepAs(rule))
  }

  // The reference for every window: the newest backup not in the future (restic ignores those too).
  const now = options.now
  const reference = now === undefined ? sorted[0].time : (sorted.find(c => c.time <= now)?.time ?? now)
  const after = (d: CalendarDuration) => subtractDuration(reference, d, timeZone).getTime()
  for (const rule of WITHIN_RULES) {
    const window = policy[rule]
    if (!isSet(window)) continue
    const from = after(window)
    const unit = WITHIN_UNIT[rule]
    const inside = walk.filter(i => sorted[i].time.getTime() > from)
    walkUnits(inside, i => UNIT[unit](clocks[i]), Infinity, oldest, keepAs(`within-${unit}`))
  }

  const withinFrom = isSet(policy.within) ? after(policy.within) : Infinity
  sorted.forEach((c, i) => {
    if (c.time.getTime() > withinFrom) reasons[i].add('within')
    if ((policy.tags ?? []).some(list => list.length > 0 && list.every(tag => c.tags?.includes(tag)))) reasons[i].add('tag')
    if (c.pinned === true) reasons[i].add('pinned')
    if (i === 0) reasons[i].add('newest')
  })

  return sorted.map((c, i) => {
    const why = REASON_ORDER.filter(r => reasons[i].has(r))
    return { id: c.id, time: c.time, keep: why.length > 0, reasons: why }
  })
}
