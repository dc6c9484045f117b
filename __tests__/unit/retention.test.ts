import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { hasKeepRule, parseDuration, planRetention, type Candidate, type KeepReason, type RetentionPolicy } from '../../src/catalog/retention.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

const at = (iso: string, id = iso, pinned?: boolean): Candidate => ({ id, time: new Date(iso), pinned })
const kept = (candidates: readonly Candidate[], policy: RetentionPolicy) =>
  planRetention(candidates, policy)
    .filter(d => d.keep)
    .map(d => d.id)
const keptWithReasons = (candidates: readonly Candidate[], policy: RetentionPolicy) =>
  planRetention(candidates, policy)
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
    // Years are calendar years, so the Monday is the 2024 pick there.
    expect(kept(candidates, { yearly: 3 })).toEqual(['2025-01-01T10:00:00Z', '2024-12-30T10:00:00Z'])
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
    expect(keptWithReasons(candidates, { withinMs: 2 * DAY })).toEqual([
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
    expect(keptWithReasons(candidates, { last: 1, hourly: 1, daily: 1, yearly: 1, withinMs: HOUR })).toEqual([
      ['newest', ['last', 'hourly', 'daily', 'yearly', 'within', 'newest']]
    ])
  })

  it('refuses to plan without a keep rule, and rejects bad counts', () => {
    expect(hasKeepRule({})).toBe(false)
    expect(hasKeepRule({ daily: 0, withinMs: 0 })).toBe(false)
    expect(hasKeepRule({ yearly: 1 })).toBe(true)
    expect(() => planRetention([at('2025-01-01T00:00:00Z')], {})).toThrow(/no keep rule/)
    expect(() => planRetention([], { last: 0, withinMs: 0 })).toThrow(/no keep rule/)
    expect(() => planRetention([], { daily: -1 })).toThrow(/keep-daily must be a non-negative integer/)
    expect(() => planRetention([], { last: 1.5 })).toThrow(/keep-last/)
    expect(() => planRetention([], { withinMs: -5 })).toThrow(/keep-within/)
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
  const candidatesArb = fc
    .array(fc.record({ offset: timeArb, pinned: fc.integer({ min: 0, max: 4 }).map(n => n === 0) }), { maxLength: 60 })
    .map(items => items.map(({ offset, pinned }, i): Candidate => ({ id: `b${i}`, time: new Date(START + offset), pinned })))
  const count = fc.integer({ min: 0, max: 8 })
  const policyArb = fc
    .record(
      {
        last: count,
        hourly: count,
        daily: count,
        weekly: count,
        monthly: count,
        yearly: count,
        withinMs: fc.oneof(
          fc.integer({ min: 0, max: 48 }).map(h => h * HOUR),
          fc.integer({ min: 0, max: 400 * DAY })
        )
      },
      { requiredKeys: [] }
    )
    .filter(hasKeepRule)

  const RULES = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly', 'within'] as const
  const singleRule = (policy: RetentionPolicy, rule: (typeof RULES)[number]): RetentionPolicy =>
    rule === 'within' ? { withinMs: policy.withinMs } : { [rule]: policy[rule] }
  const idsWith = (candidates: readonly Candidate[], policy: RetentionPolicy, reason?: KeepReason) =>
    new Set(
      planRetention(candidates, policy)
        .filter(d => (reason ? d.reasons.includes(reason) : d.keep))
        .map(d => d.id)
    )

  it('keeps the newest and every pinned candidate', () => {
    fc.assert(
      fc.property(candidatesArb, policyArb, (candidates, policy) => {
        const decisions = planRetention(candidates, policy)
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
      fc.property(candidatesArb, policyArb, (candidates, policy) => {
        const keptIds = idsWith(candidates, policy)
        const survivors = candidates.filter(c => keptIds.has(c.id))
        expect(planRetention(survivors, policy).every(d => d.keep)).toBe(true)
      })
    )
  })

  it('ORs rules together: combined kept set is the union of single-rule kept sets', () => {
    fc.assert(
      fc.property(candidatesArb, policyArb, (candidates, policy) => {
        const active = RULES.filter(rule => hasKeepRule(singleRule(policy, rule)))
        const union = new Set<string>()
        for (const rule of active) {
          const single = singleRule(policy, rule)
          for (const id of idsWith(candidates, single)) union.add(id)
          // Each rule picks the same candidates alone as in combination.
          const reason: KeepReason = rule
          expect(idsWith(candidates, policy, reason)).toEqual(idsWith(candidates, single, reason))
        }
        expect(idsWith(candidates, policy)).toEqual(union)
      })
    )
  })

  it('never keeps more than N candidates for a count rule', () => {
    fc.assert(
      fc.property(candidatesArb, policyArb, (candidates, policy) => {
        const decisions = planRetention(candidates, policy)
        for (const rule of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const) {
          expect(decisions.filter(d => d.reasons.includes(rule)).length).toBeLessThanOrEqual(policy[rule] ?? 0)
        }
      })
    )
  })

  it('returns exactly one decision per input, sorted newest first', () => {
    fc.assert(
      fc.property(candidatesArb, policyArb, (candidates, policy) => {
        const decisions = planRetention(candidates, policy)
        expect(decisions.map(d => d.id).sort()).toEqual(candidates.map(c => c.id).sort())
        for (let i = 1; i < decisions.length; i++) {
          expect(decisions[i - 1].time.getTime()).toBeGreaterThanOrEqual(decisions[i].time.getTime())
        }
      })
    )
  })
})

describe('parseDuration', () => {
  it.each([
    ['30d', 30 * DAY],
    ['12h', 12 * HOUR],
    ['90m', 90 * 60_000],
    ['2w', 14 * DAY],
    ['1y', 365 * DAY],
    ['1y6w', 365 * DAY + 42 * DAY],
    ['36h', 36 * HOUR],
    ['1w2d', 9 * DAY],
    ['0d1h', HOUR]
  ])('accepts %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })

  it.each(['', '0', '0d', '-1d', '5x', '1.5d', '1 d', ' 1d', '30D', 'd', '1mo', '+1d', '99999999999999999y'])('rejects %j', text => {
    expect(() => parseDuration(text)).toThrow('expected a duration such as 30d, 12h or 1w2d (units: y, w, d, h, m)')
  })
})
