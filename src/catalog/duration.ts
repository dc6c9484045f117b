/**
 * The one duration grammar of every duration input (keep-within*, max-age, max-drill-age, …).
 * It reads like restic's (`forget --keep-within 1y6m`): whole numbers with the units
 *   y = calendar years, m = calendar MONTHS, d = days, h = hours,
 * in any order, e.g. `30d`, `6m`, `1y6m`, `36h`, `2m2h`. Only where minutes make sense (max-age,
 * lock timeouts) `min` = minutes is accepted too, spelled so it can't be read as months.
 *
 * Refused, with the accepted forms: unknown units (`w`, `s`, `M`, …), signs, fractions, spaces,
 * a unit given twice (restic lets the last one win, `1d2d` = 2 days; one could as well read 3 days,
 * so neither is guessed), a number without a unit, and a total of zero.
 *
 * Calendar units move the wall clock (in a time zone), as restic's Go `AddDate` does:
 * `1m` before 31 March is "31 February", normalised to 3 March; hours and minutes are elapsed time.
 */

import { fromWallClock, wallClock, wallMs } from './timezone.js'

export interface CalendarDuration {
  years: number
  months: number
  days: number
  hours: number
  minutes: number
}

export interface DurationOptions {
  /** Accept `min` (minutes); only for inputs where minutes make sense. */
  allowMinutes?: boolean
}

const UNITS = { y: 'years', m: 'months', d: 'days', h: 'hours', min: 'minutes' } as const
type Unit = keyof typeof UNITS

/** Each number at most this many of its unit: far beyond any use, well inside Date's range. */
const MAX_PER_UNIT = 99_999

export function durationHint(options: DurationOptions = {}): string {
  const minutes = options.allowMinutes ? ', min (minutes)' : ''
  const example = options.allowMinutes ? '26h, 90min, 7d or 1m' : '30d, 6m, 1y6m or 36h'
  return `expected a duration such as ${example}: whole numbers with units y (calendar years), m (calendar months), d (days), h (hours)${minutes}`
}

/** Parses a duration or throws an Error whose message says what was wrong and what is accepted. */
export function parseDuration(text: string, options: DurationOptions = {}): CalendarDuration {
  const source = text.trim()
  const fail = (problem: string): never => {
    throw new Error(`"${text}": ${problem}; ${durationHint(options)}`)
  }
  if (source === '') fail('empty')
  const duration: CalendarDuration = { years: 0, months: 0, days: 0, hours: 0, minutes: 0 }
  const seen = new Set<Unit>()
  const token = /(\d+)([a-zA-Z]*)/y
  let at = 0
  while (at < source.length) {
    token.lastIndex = at
    const match = token.exec(source)
    if (!match) fail(`"${source[at]}" where a whole number belongs (no signs, fractions or spaces)`)
    const [whole, digits, unitText] = match as RegExpExecArray
    at += whole.length
    if (unitText === '') fail(/[.,]/.test(source[at] ?? '') ? 'no fractions (write 36h, not 1.5d)' : `no unit after ${digits}`)
    if (!(unitText in UNITS) || (unitText === 'min' && !options.allowMinutes)) {
      fail(unitText === 'min' ? 'minutes are not accepted here' : `"${unitText}" is not a unit`)
    }
    const unit = unitText as Unit
    if (seen.has(unit)) fail(`${UNITS[unit]} given twice`)
    seen.add(unit)
    const n = Number(digits)
    if (n > MAX_PER_UNIT) fail(`more than ${MAX_PER_UNIT} ${UNITS[unit]}`)
    duration[UNITS[unit]] = n
  }
  if (Object.values(duration).every(n => n === 0)) fail('zero')
  return duration
}

/** Canonical text, restic's order: `1y6m2d3h`, plus `30min`. */
export function formatDuration(d: CalendarDuration): string {
  const parts: Array<[number, string]> = [
    [d.years, 'y'],
    [d.months, 'm'],
    [d.days, 'd'],
    [d.hours, 'h'],
    [d.minutes, 'min']
  ]
  return parts
    .filter(([n]) => n !== 0)
    .map(([n, unit]) => `${n}${unit}`)
    .join('')
}

/**
 * `from` minus `d`: years, months and days step back on the wall clock in `timeZone` (IANA name,
 * default UTC) keeping its time of day, then hours and minutes are taken off as elapsed time.
 */
export function subtractDuration(from: Date, d: CalendarDuration, timeZone = 'UTC'): Date {
  let calendar = from
  // Skipped when there is no calendar part: a wall time inside a DST overlap maps back to two instants.
  if (d.years !== 0 || d.months !== 0 || d.days !== 0) {
    const w = wallClock(from, timeZone)
    calendar = fromWallClock(wallMs(w.year - d.years, w.month - d.months, w.day - d.days, w.hour, w.minute, w.second, w.millisecond), timeZone)
  }
  return new Date(calendar.getTime() - d.hours * 3_600_000 - d.minutes * 60_000)
}

/** How long `d` lasts when it ends at `at` (a calendar month is 28–31 days): for timeouts and age limits kept in ms. */
export function durationMs(d: CalendarDuration, at: Date, timeZone = 'UTC'): number {
  return at.getTime() - subtractDuration(at, d, timeZone).getTime()
}
