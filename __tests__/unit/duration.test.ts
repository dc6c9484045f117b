import { describe, expect, it } from '@jest/globals'
import { durationMs, formatDuration, parseDuration, subtractDuration, type CalendarDuration } from '../../src/catalog/duration.js'
import { checkTimeZone, wallClock } from '../../src/catalog/timezone.js'

const d = (parts: Partial<CalendarDuration>): CalendarDuration => ({ years: 0, months: 0, days: 0, hours: 0, minutes: 0, ...parts })

describe('parseDuration', () => {
  it.each([
    ['9h', d({ hours: 9 })],
    ['3d', d({ days: 3 })],
    ['6m', d({ months: 6 })],
    ['1y', d({ years: 1 })],
    ['7m5d', d({ months: 7, days: 5 })],
    // any order, as restic reads it
    ['5d7m', d({ months: 7, days: 5 })],
    ['4h3d9m', d({ months: 9, days: 3, hours: 4 })],
    ['1y2m3d3h', d({ years: 1, months: 2, days: 3, hours: 3 })],
    [' 30d ', d({ days: 30 })],
    ['9999y', d({ years: 9999 })]
  ])('%s reads like restic', (text, expected) => {
    expect(parseDuration(text)).toEqual(expected)
  })

  it('reads min as minutes only where allowed', () => {
    expect(parseDuration('90min', { allowMinutes: true })).toEqual(d({ minutes: 90 }))
    expect(parseDuration('1h30min', { allowMinutes: true })).toEqual(d({ hours: 1, minutes: 30 }))
    expect(parseDuration('6m', { allowMinutes: true })).toEqual(d({ months: 6 }))
    expect(() => parseDuration('90min')).toThrow('"90min": minutes are not accepted here; expected a duration such as 30d, 6m, 1y6m or 36h')
  })

  it.each([
    ['2w', '"2w": "w" is not a unit'],
    ['6M', '"6M": "M" is not a unit'],
    ['30s', '"30s": "s" is not a unit'],
    ['1y4m3w1d', '"1y4m3w1d": "w" is not a unit'],
    ['1d2d', '"1d2d": days given twice'],
    ['30', '"30": no unit after 30'],
    ['1.5d', '"1.5d": no fractions (write 36h, not 1.5d)'],
    ['-5d', '"-5d": "-" where a whole number belongs'],
    ['1y -5d', '"1y -5d": " " where a whole number belongs'],
    ['d', '"d": "d" where a whole number belongs'],
    ['0d', '"0d": zero'],
    ['0y0m', '"0y0m": zero'],
    ['', '"": empty'],
    ['100000d', '"100000d": more than 99999 days'],
    ['\u07c0d', 'where a whole number belongs']
  ])('refuses %j', (text, problem) => {
    expect(() => parseDuration(text)).toThrow(problem)
    expect(() => parseDuration(text)).toThrow('whole numbers with units y (calendar years), m (calendar months), d (days), h (hours)')
  })

  it('formats canonically, in restic order', () => {
    expect(formatDuration(parseDuration('4h3d9m'))).toBe('9m3d4h')
    expect(formatDuration(parseDuration('1h30min', { allowMinutes: true }))).toBe('1h30min')
  })
})

describe('subtractDuration', () => {
  const from = new Date('2016-01-18T12:02:03Z')
  it.each([
    ['1d', '2016-01-17T12:02:03.000Z'],
    ['1m', '2015-12-18T12:02:03.000Z'],
    ['1y2m3d3h', '2014-11-15T09:02:03.000Z'],
    ['13d23h', '2016-01-04T13:02:03.000Z'],
    ['9999y', '-007983-01-18T12:02:03.000Z']
  ])('%s before 2016-01-18 12:02:03 UTC', (text, expected) => {
    expect(subtractDuration(from, parseDuration(text)).toISOString()).toBe(expected)
  })

  it('normalises a day past the month end as Go AddDate does (31 March - 1m = 3 March)', () => {
    expect(subtractDuration(new Date('2025-03-31T10:00:00Z'), d({ months: 1 })).toISOString()).toBe('2025-03-03T10:00:00.000Z')
  })

  it('steps calendar units on the wall clock of the time zone, hours as elapsed time', () => {
    // Berlin moved to summer time on 2025-03-30: one calendar day back keeps 12:00 local, 23 h earlier.
    const noonSummer = new Date('2025-03-31T10:00:00Z')
    expect(subtractDuration(noonSummer, d({ days: 1 }), 'Europe/Berlin').toISOString()).toBe('2025-03-30T10:00:00.000Z')
    expect(subtractDuration(noonSummer, d({ days: 2 }), 'Europe/Berlin').toISOString()).toBe('2025-03-29T11:00:00.000Z')
    expect(subtractDuration(noonSummer, d({ hours: 48 }), 'Europe/Berlin').toISOString()).toBe('2025-03-29T10:00:00.000Z')
    expect(subtractDuration(noonSummer, d({ days: 2 })).toISOString()).toBe('2025-03-29T10:00:00.000Z')
  })

  it('durationMs is the elapsed time of a duration ending at a given instant', () => {
    expect(durationMs(parseDuration('90min', { allowMinutes: true }), new Date('2025-03-01T00:00:00Z'))).toBe(90 * 60_000)
    expect(durationMs(d({ months: 1 }), new Date('2025-03-01T00:00:00Z'))).toBe(28 * 86_400_000)
    expect(durationMs(d({ months: 1 }), new Date('2025-04-01T00:00:00Z'))).toBe(31 * 86_400_000)
  })

  it('hours alone never move an instant inside a DST overlap', () => {
    // 2025-10-26 02:30 happens twice in Berlin; the later one (00:30 UTC) minus 1h is 23:30 UTC.
    expect(subtractDuration(new Date('2025-10-26T01:30:00Z'), d({ hours: 1 }), 'Europe/Berlin').toISOString()).toBe('2025-10-26T00:30:00.000Z')
  })
})

describe('time zones', () => {
  it('reads the wall clock of an IANA zone and canonicalises names', () => {
    expect(wallClock(new Date('2025-01-01T23:30:00Z'), 'Asia/Tokyo')).toMatchObject({ year: 2025, month: 1, day: 2, hour: 8, minute: 30 })
    expect(wallClock(new Date('2025-01-01T00:30:00Z'), 'America/New_York')).toMatchObject({ year: 2024, month: 12, day: 31, hour: 19 })
    expect(checkTimeZone('utc')).toBe('UTC')
    expect(checkTimeZone('europe/berlin')).toBe('Europe/Berlin')
    expect(() => checkTimeZone('Mars/Olympus')).toThrow('"Mars/Olympus" is not an IANA time zone; use a name such as UTC, Europe/Berlin or America/New_York')
  })
})
