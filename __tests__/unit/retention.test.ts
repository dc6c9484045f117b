import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { parseDuration } from '../../src/catalog/duration.js'
import { hasKeepRule, planRetention, UNLIMITED, type Candidate, type KeepReason, type PlanOptions, type RetentionPolicy } from '../../src/catalog/retention.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

const at = (iso: string, id = iso, pinned?: boolean): Candidate => ({ id, time: new Date(iso), pinned })
const kept = (candidates: readonly Candidate[], policy: RetentionPolicy, options?: PlanOptions) =>
  planRetention(candidates, policy, options)
    .filter(d => d.keep)
    .map(d => d.id)
const keptWithReasons = (candidates: readonly Candidate[], policy: RetentionPolicy, options?: PlanOptions) =>
  planRetention(candidates, policy, options)
    .filter(d => d.keep)
    .map(d => [d.id, d.reasons])

describe('planRetention examples', () => {
  it('a year of daily backups with daily 7, weekly 4, monthly 12', () => {
    const candidates: Candidate[] = []
    for (let t = Date.UTC(2025, 0, 1, 2); t <= Date.UTC(2025, 11, 31, 2); t += DAY) {
      const time = new Date(t)
      candidates.push({ id: time.toISOString().slice(0, 10), time })
    }
    expect(candidates).toHaveLength(365)

    // 2025-12-31 is a Wednesday in ISO week 2026-W01 (Mon 12-29 .. Sun 2026-01-04), so the
    // weekly picks are 12-31, then the Sundays closing the previous weeks: 12-28, 12-21, 12-14.
    // Monthly picks the last day of each month.
    expect(keptWithReasons(candidates, { daily: 7, weekly: 4, monthly: 12 })).toEqual([
      ['2025-12-31', ['daily', 'weekly', 'monthly', 'newest']],
      ['2025-12-30', ['daily']],
      ['2025-12-29', ['daily']],
      ['2025-12-28', ['daily', 'weekly']],
      ['2025-12-27', ['daily']],
      ['2025-12-26', ['daily']],
      ['2025-12-25', ['daily']],
      ['2025-12-21', ['weekly']],
      ['2025-12-14', ['weekly']],
      ['2025-11-30', ['monthly']],
      ['2025-10-31', ['monthly']],
      ['2025-09-30', ['monthly']],
      ['2025-08-31', ['monthly']],
      ['2025-07-31', ['monthly']],
      ['2025-06-30', ['monthly']],
      ['2025-05-31', ['monthly']],
      ['2025-04-30', ['monthly']],
      ['2025-03-31', ['monthly']],
      ['2025-02-28', ['monthly']],
      ['2025-01-31', ['monthly']]
    ])
  })

  it('uses ISO weeks: Mon 2024-12-30 and Wed 2025-01-01 share 2025-W01, Sun 2024-12-29 is 2024-W52', () => {
    const candidates = [at('2024-12-29T10:00:00Z'), at('2024-12-30T10:00:00Z'), at('2025-01-01T10:00:00Z')]
    expect(kept(candidates, { weekly: 3 })).toEqual(['2025-01-01T10:00:00Z', '2024-12-29T10:00:00Z'])
    // Years are calendar years, so the Monday is the 2024 pick there (2 slots: no room left for the oldest).
    expect(kept(candidates, { yearly: 2 })).toEqual(['2025-01-01T10:00:00Z', '2024-12-30T10:00:00Z'])
  })

  it('handles week 53: Thu 2020-12-31 and Sun 2021-01-03 are both 2020-W53', () => {
    const candidates = [at('2020-12-27T00:00:00Z'), at('2020-12-31T00:00:00Z'), at('2021-01-03T00:00:00Z'), at('2021-01-04T00:00:00Z')]
    expect(kept(candidates, { weekly: 10 })).toEqual(['2021-01-04T00:00:00Z', '2021-01-03T00:00:00Z', '2020-12-27T00:00:00Z'])
  })

  it('uses UTC hours, days and months', () => {
    const candidates = [at('2025-03-31T23:59:00Z'), at('2025-04-01T00:01:00Z'), at('2025-04-01T00:30:00Z')]
    expect(kept(candidates, { hourly: 5 })).toEqual(['2025-04-01T00:30:00Z', '2025-03-31T23:59:00Z'])
    expect(kept(candidates, { daily: 5 })).toEqual(['2025-04-01T00:30:00Z', '2025-03-31T23:59:00Z'])
    expect(kept(candidates, { monthly: 5 })).toEqual(['2025-04-01T00:30:00Z', '2025-03-31T23:59:00Z'])
  })

  it('keep-last keeps the N newest, ties broken by id descending', () => {
    const candidates = [at('2025-01-01T00:00:00Z', 'a'), at('2025-01-03T00:00:00Z', 'c'), at('2025-01-02T00:00:00Z', 'b1'), at('2025-01-02T00:00:00Z', 'b2')]
    expect(planRetention(candidates, { last: 2 }).map(d => [d.id, d.keep])).toEqual([
      ['c', true],
      ['b2', true],
      ['b1', false],
      ['a', false]
    ])
  })

  it('keep-within is measured from the newest backup, not from now, with an exclusive bound', () => {
    // Backups from 2020: measured from "now" they would all be gone.
    const candidates = [0, 1, 2, 3].map(days => ({ id: `d${days}`, time: new Date(Date.UTC(2020, 5, 10) - days * DAY) }))
    expect(keptWithReasons(candidates, { within: parseDuration('2d') })).toEqual([
      ['d0', ['within', 'newest']],
      ['d1', ['within']]
    ])
  })

  it('always keeps pinned backups, which do not use up rule slots', () => {
    const candidates = [
      at('2025-01-05T00:00:00Z', 'new-pinned', true),
      at('2025-01-04T00:00:00Z', 'n4'),
      at('2025-01-03T00:00:00Z', 'n3'),
      at('2025-01-02T00:00:00Z', 'n2'),
      at('2020-01-01T00:00:00Z', 'old-pinned', true)
    ]
    expect(keptWithReasons(candidates, { last: 2 })).toEqual([
      ['new-pinned', ['pinned', 'newest']],
      ['n4', ['last']],
      ['n3', ['last']],
      ['old-pinned', ['pinned']]
    ])
  })

  it('keeps the newest even when every rule slot goes elsewhere, and lists every reason', () => {
    const candidates = [at('2025-06-01T12:00:00Z', 'newest'), at('2025-06-01T11:00:00Z', 'older')]
    expect(keptWithReasons(candidates, { last: 1, hourly: 1, daily: 1, yearly: 1, within: parseDuration('1h') })).toEqual([
      ['newest', ['last', 'hourly', 'daily', 'yearly', 'within', 'newest']]
    ])
  })

  it('keeps the oldest backup while a count rule has slots left (restic ≥ 0.16), and only then', () => {
    // A set that started mid-2024: yearly 10 has slots for 2023, 2022, … so the first backup stays.
    const candidates = [at('2025-03-01T02:00:00Z'), at('2024-12-31T02:00:00Z'), at('2024-06-01T02:00:00Z'), at('2024-05-15T02:00:00Z')]
    expect(keptWithReasons(candidates, { yearly: 10 })).toEqual([
      ['2025-03-01T02:00:00Z', ['yearly', 'newest']],
      ['2024-12-31T02:00:00Z', ['yearly']],
      ['2024-05-15T02:00:00Z', ['yearly', 'oldest']]
    ])
    // With every slot used by newer units, the oldest goes.
    expect(kept(candidates, { yearly: 2 })).toEqual(['2025-03-01T02:00:00Z', '2024-12-31T02:00:00Z'])
  })

  it('unlimited counts keep every unit', () => {
    const candidates = [at('2025-03-02T02:00:00Z'), at('2025-03-01T02:00:00Z'), at('2025-02-01T02:00:00Z'), at('2019-01-01T02:00:00Z')]
    expect(kept(candidates, { monthly: UNLIMITED })).toEqual(['2025-03-02T02:00:00Z', '2025-02-01T02:00:00Z', '2019-01-01T02:00:00Z'])
  })

  it('keep-within-daily thins by age: one per day inside the window, however few backups there were', () => {
    // A broken cron: two backups a day on 1–3 June, then nothing until 20 June.
    const candidates = [
      at('2025-06-20T02:00:00Z'),
      at('2025-06-03T14:00:00Z'),
      at('2025-06-03T02:00:00Z'),
      at('2025-06-02T14:00:00Z'),
      at('2025-06-02T02:00:00Z'),
      at('2025-05-01T02:00:00Z')
    ]
    // Measured back from the newest: 7d reaches 13 June, so the June 1-3 backups are outside.
    expect(kept(candidates, { withinDaily: parseDuration('7d') })).toEqual(['2025-06-20T02:00:00Z'])
    expect(keptWithReasons(candidates, { withinDaily: parseDuration('1m') })).toEqual([
      ['2025-06-20T02:00:00Z', ['within-daily', 'newest']],
      ['2025-06-03T14:00:00Z', ['within-daily']],
      ['2025-06-02T14:00:00Z', ['within-daily']]
    ])
    // A count rule reaches back as far as it takes to fill its slots: daily 4 keeps 1 May.
    expect(kept(candidates, { daily: 4 })).toEqual(['2025-06-20T02:00:00Z', '2025-06-03T14:00:00Z', '2025-06-02T14:00:00Z', '2025-05-01T02:00:00Z'])
  })

  it('keep-tag keeps every backup that carries all tags of one list', () => {
    const candidates = [
      { ...at('2025-06-04T00:00:00Z', 'newest') },
      { ...at('2025-06-03T00:00:00Z', 'release'), tags: ['release-v2.3'] },
      { ...at('2025-06-02T00:00:00Z', 'both'), tags: ['pre-migration', 'release-v2.3'] },
      { ...at('2025-06-01T00:00:00Z', 'migration'), tags: ['pre-migration'] }
    ]
    expect(keptWithReasons(candidates, { tags: [['pre-migration']] })).toEqual([
      ['newest', ['newest']],
      ['both', ['tag']],
      ['migration', ['tag']]
    ])
    expect(kept(candidates, { tags: [['pre-migration', 'release-v2.3']] })).toEqual(['newest', 'both'])
    expect(kept(candidates, { tags: [['release-v2.3'], ['pre-migration']] })).toEqual(['newest', 'release', 'both', 'migration'])
  })

  it('a backup stamped in the future does not move the keep-within window', () => {
    const candidates = [
      at('2030-01-01T00:00:00Z', 'skewed'),
      at('2025-06-10T00:00:00Z', 'd0'),
      at('2025-06-09T12:00:00Z', 'd05'),
      at('2025-06-08T00:00:00Z', 'd2')
    ]
    const now = new Date('2025-06-10T06:00:00Z')
    expect(keptWithReasons(candidates, { within: parseDuration('1d') }, { now })).toEqual([
      ['skewed', ['within', 'newest']],
      ['d0', ['within']],
      ['d05', ['within']]
    ])
    // Without a clock the skewed backup would be the reference and the window would pass them all by.
    expect(kept(candidates, { within: parseDuration('1d') })).toEqual(['skewed'])
    // When every backup is ahead of the clock, the window counts back from now.
    expect(kept(candidates.slice(0, 2), { within: parseDuration('1h') }, { now: new Date('2025-06-09T23:30:00Z') })).toEqual(['skewed', 'd0'])
    expect(planRetention([], { within: parseDuration('1d') }, { now, timeZone: 'Europe/Berlin' })).toEqual([])
  })

  it('counts hours, days, weeks, months and years on the clock of the retention time zone', () => {
    // 23:30 UTC on 31 Jan is 08:30 on 1 Feb in Tokyo: another day and month there.
    const candidates = [at('2025-01-31T23:30:00Z', 'a'), at('2025-01-31T12:00:00Z', 'b'), at('2024-12-15T12:00:00Z', 'c')]
    for (const rule of ['daily', 'monthly'] as const) {
      expect(kept(candidates, { [rule]: 2 })).toEqual(['a', 'c'])
      expect(kept(candidates, { [rule]: 2 }, { timeZone: 'Asia/Tokyo' })).toEqual(['a', 'b'])
    }
    // Sunday 23:00 in New York (EDT) is Monday 03:00 UTC: a new ISO week in UTC, the same one in New York.
    const sunday = [at('2025-06-09T03:00:00Z', 'sun-night'), at('2025-06-08T15:00:00Z', 'sun-noon'), at('2025-06-01T15:00:00Z', 'prev-sun')]
    expect(kept(sunday, { weekly: 2 })).toEqual(['sun-night', 'sun-noon'])
    expect(kept(sunday, { weekly: 2 }, { timeZone: 'America/New_York' })).toEqual(['sun-night', 'prev-sun'])
  })

  it('refuses to plan without a keep rule, and rejects bad counts', () => {
    expect(hasKeepRule({})).toBe(false)
    expect(hasKeepRule({ daily: 0, tags: [[]] })).toBe(false)
    expect(hasKeepRule({ yearly: 1 })).toBe(true)
    expect(() => planRetention([at('2025-01-01T00:00:00Z')], {})).toThrow(/no keep rule/)
    expect(() => planRetention([], { last: 0 })).toThrow(/no keep rule/)
    expect(() => planRetention([], { daily: -1 })).toThrow(/keep-daily must be a non-negative integer/)
    expect(() => planRetention([], { last: 1.5 })).toThrow(/keep-last/)
    expect(() => planRetention([], { withinDaily: { years: 0, months: 0, days: -3, hours: 0, minutes: 0 } })).toThrow(
      /withinDaily must count whole, non-negative units/
    )
    expect(planRetention([], { last: 1 })).toEqual([])
  })
})

describe('planRetention properties', () => {
  const SPAN = 3 * 365 * DAY
  const START = Date.UTC(2023, 0, 1)
  // Mix arbitrary instants with hour-aligned ones so same-time ties and same-unit groups are common.
  const timeArb = fc.oneof(
    fc.integer({ min: 0, max: SPAN }),
    fc.integer({ min: 0, max: SPAN / HOUR }).map(h => h * HOUR),
    fc.integer({ min: 0, max: 60 }).map(d => d * DAY)
  )
  const TAGS = ['release', 'pre-migration', 'audit']
  const candidatesArb = fc
    .array(
      fc.record({
        offset: timeArb,
        pinned: fc.integer({ min: 0, max: 4 }).map(n => n === 0),
        tags: fc.subarray(TAGS)
      }),
      { maxLength: 60 }
    )
    .map(items => items.map(({ offset, pinned, tags }, i): Candidate => ({ id: `b${i}`, time: new Date(START + offset), pinned, tags })))
  // "now" somewhere inside the span, so some backups are stamped in the future.
  const optionsArb = fc.record({
    now: fc.integer({ min: SPAN / 2, max: SPAN + DAY }).map(offset => new Date(START + offset)),
    timeZone: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata')
  })
  const count = fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constant(UNLIMITED))
  const durationArb = fc.oneof(
    fc.integer({ min: 1, max: 48 }).map(h => parseDuration(`${h}h`)),
    fc.integer({ min: 1, max: 400 }).map(d => parseDuration(`${d}d`)),
    fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 11 })).map(([y, m]) => parseDuration(`${y}y${m}m`))
  )
  const policyArb = fc
    .record(
      {
        last: count,
        hourly: count,
        daily: count,
        weekly: count,
        monthly: count,
        yearly: count,
        within: durationArb,
        withinHourly: durationArb,
        withinDaily: durationArb,
        withinWeekly: durationArb,
        withinMonthly: durationArb,
        withinYearly: durationArb,
        tags: fc.array(fc.subarray(TAGS, { minLength: 1 }), { minLength: 1, maxLength: 2 })
      },
      { requiredKeys: [] }
    )
    .filter(hasKeepRule)

  const RULES = {
    last: 'last',
    hourly: 'hourly',
    daily: 'daily',
    weekly: 'weekly',
    monthly: 'monthly',
    yearly: 'yearly',
    within: 'within',
    withinHourly: 'within-hourly',
    withinDaily: 'within-daily',
    withinWeekly: 'within-weekly',
    withinMonthly: 'within-monthly',
    withinYearly: 'within-yearly',
    tags: 'tag'
  } as const satisfies Record<keyof RetentionPolicy, KeepReason>
  const idsWith = (candidates: readonly Candidate[], policy: RetentionPolicy, options: PlanOptions, reason?: KeepReason) =>
    new Set(
      planRetention(candidates, policy, options)
        .filter(d => (reason ? d.reasons.includes(reason) : d.keep))
        .map(d => d.id)
    )

  it('keeps the newest and every pinned candidate', () => {
    fc.assert(
      fc.property(candidatesArb, policyArb, optionsArb, (candidates, policy, options) => {
        const decisions = planRetention(candidates, policy, options)
        if (decisions.length > 0) expect(decisions[0].reasons).toContain('newest')
        const newestTime = Math.max(...candidates.map(c => c.time.getTime()))
        for (const d of decisions) {
          expect(d.keep).toBe(d.reasons.length > 0)
          expect(d.time.getTime()).toBeLessThanOrEqual(decisions[0].time.getTime())
          if (candidates.find(c => c.id === d.id)?.pinned) expect(d.reasons).toContain('pinned')
        }
        if (decisions.length > 0) expect(decisions[0].time.getTime()).toBe(newestTime)
      })
    )
  })

  it('is idempotent: re-planning the kept candidates deletes nothing', () => {
    fc.assert(
      fc.property(candidatesArb, policyArb, optionsArb, (candidates, policy, options) => {
        const keptIds = idsWith(candidates, policy, options)
        const survivors = candidates.filter(c => keptIds.has(c.id))
        expect(planRetention(survivors, policy, options).every(d => d.keep)).toBe(true)
      })
    )
  })

  it('ORs rules together: combined kept set is the union of single-rule kept sets', () => {
    fc.assert(
      fc.property(candidatesArb, policyArb, optionsArb, (candidates, policy, options) => {
        const union = new Set<string>()
        for (const [rule, reason] of Object.entries(RULES)) {
          const single: RetentionPolicy = { [rule]: policy[rule as keyof RetentionPolicy] }
          if (!hasKeepRule(single)) continue
          for (const id of idsWith(candidates, single, options)) union.add(id)
          // Each rule picks the same candidates alone as in combination.
          expect(idsWith(candidates, policy, options, reason)).toEqual(idsWith(candidates, single, options, reason))
        }
        expect(idsWith(candidates, policy, options)).toEqual(union)
      })
    )
  })

  it('never keeps more than N candidates for a count rule', () => {
    fc.assert(
      fc.property(candidatesArb, policyArb, optionsArb, (candidates, policy, options) => {
        const decisions = planRetention(candidates, policy, options)
        for (const rule of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const) {
          expect(decisions.filter(d => d.reasons.includes(rule)).length).toBeLessThanOrEqual(policy[rule] ?? 0)
        }
      })
    )
  })

  it('returns exactly one decision per input, sorted newest first', () => {
    fc.assert(
      fc.property(candidatesArb, policyArb, optionsArb, (candidates, policy, options) => {
        const decisions = planRetention(candidates, policy, options)
        expect(decisions.map(d => d.id).sort()).toEqual(candidates.map(c => c.id).sort())
        for (let i = 1; i < decisions.length; i++) {
          expect(decisions[i - 1].time.getTime()).toBeGreaterThanOrEqual(decisions[i].time.getTime())
        }
      })
    )
  })
})
