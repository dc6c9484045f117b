/**
 * Wall-clock arithmetic in an IANA time zone with nothing but Intl, for the calendar rules of
 * retention (hours, days, ISO weeks, months, years are counted in the configured zone) and for
 * calendar durations (`1m` back from 31 March in Europe/Berlin).
 */

export interface WallClock {
  year: number
  /** 1–12 */
  month: number
  day: number
  hour: number
  minute: number
  second: number
  millisecond: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric'
    })
    formatters.set(timeZone, f)
  }
  return f
}

/** The IANA name, canonicalised (`utc` → `UTC`), or an Error saying what is accepted. */
export function checkTimeZone(name: string): string {
  try {
    return formatter(name).resolvedOptions().timeZone
  } catch {
    throw new Error(`"${name}" is not an IANA time zone; use a name such as UTC, Europe/Berlin or America/New_York`)
  }
}

/** Milliseconds since the epoch of a proleptic-Gregorian wall clock read as UTC; fields overflow like Date.UTC, years 0–99 stay themselves. */
export function wallMs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, millisecond = 0): number {
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute, second, millisecond)
  return date.getTime()
}

/** What a clock in `timeZone` shows at `time`. */
export function wallClock(time: Date, timeZone = 'UTC'): WallClock {
  if (timeZone === 'UTC') {
    return {
      year: time.getUTCFullYear(),
      month: time.getUTCMonth() + 1,
      day: time.getUTCDate(),
      hour: time.getUTCHours(),
      minute: time.getUTCMinutes(),
      second: time.getUTCSeconds(),
      millisecond: time.getUTCMilliseconds()
    }
  }
  const parts: Record<string, string> = {}
  for (const part of formatter(timeZone).formatToParts(time)) parts[part.type] = part.value
  const year = Number(parts.year)
  return {
    year: parts.era === 'BC' || parts.era === 'B' ? 1 - year : year,
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    millisecond: time.getUTCMilliseconds()
  }
}

function offsetMs(time: number, timeZone: string): number {
  const w = wallClock(new Date(time), timeZone)
  return wallMs(w.year, w.month, w.day, w.hour, w.minute, w.second, w.millisecond) - time
}

/**
 * The instant a clock in `timeZone` shows the wall time `wall` (ms from wallMs). In a DST gap or
 * overlap one of the candidate instants is chosen, as Go's time.Date does.
 */
export function fromWallClock(wall: number, timeZone = 'UTC'): Date {
  if (timeZone === 'UTC') return new Date(wall)
  const first = wall - offsetMs(wall, timeZone)
  const second = wall - offsetMs(first, timeZone)
  return new Date(second)
}
