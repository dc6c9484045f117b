import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { parseDuration } from '../../src/catalog/duration.js'
import { planRetention, UNLIMITED, type Candidate, type KeepReason, type RetentionPolicy } from '../../src/catalog/retention.js'

/**
 * restic's own golden cases for `forget` (TestApplyPolicy: 103 snapshots, 40 policies and the
 * expected keeps with their reasons), extracted as data; see "origin" in the JSON file.
 */
interface Golden {
  snapshots: Array<{ time: string; tags?: string[]; paths?: string[] }>
  cases: Array<{ file: string; policy: Record<string, number | string | string[][]>; keep: Array<{ snapshot: number; matches: string[] }> }>
}
const golden = JSON.parse(readFileSync(new URL('../data/restic-policy/restic-policy.json', import.meta.url), 'utf8')) as Golden

// Ids sort descending in restic's input order, so equal times tie-break as restic's stable sort does.
const candidates: Candidate[] = golden.snapshots.map((s, i) => ({ id: String(1000 - i).padStart(4, '0'), time: new Date(s.time), tags: s.tags }))
const indexOf = new Map(candidates.map((c, i) => [c.id, i]))

function toPolicy(restic: Golden['cases'][number]['policy']): RetentionPolicy {
  const policy: RetentionPolicy = {}
  for (const [key, value] of Object.entries(restic)) {
    if (key === 'tags') policy.tags = value as string[][]
    else if (typeof value === 'string') (policy as Record<string, unknown>)[key] = parseDuration(value)
    else (policy as Record<string, unknown>)[key] = value === -1 ? UNLIMITED : value
  }
  return policy
}

/** restic's reason texts in our vocabulary: "oldest yearly within 1y2m3d3h" → within-yearly + oldest. */
function toReasons(matches: string[]): KeepReason[] {
  const reasons = new Set<KeepReason>()
  for (const text of matches) {
    const m =
      /^(oldest )?(?:(last|hourly|daily|weekly|monthly|yearly) snapshot|(hourly|daily|weekly|monthly|yearly) within \S+|(within) \S+|(has tags) .*)$/.exec(text)
    if (!m) throw new Error(`unknown restic reason "${text}"`)
    const [, oldest, count, withinUnit, within, tags] = m
    reasons.add(count ? (count as KeepReason) : withinUnit ? (`within-${withinUnit}` as KeepReason) : within ? 'within' : tags ? 'tag' : (undefined as never))
    if (oldest) reasons.add('oldest')
  }
  return [...reasons].sort()
}

describe("restic's forget golden cases", () => {
  const expressible = golden.cases.filter(c => Object.keys(c.policy).length > 0)

  it("covers every case but the empty policy, which is refused, as restic's forget command refuses it", () => {
    expect(golden.snapshots).toHaveLength(103)
    expect(golden.cases).toHaveLength(40)
    expect(expressible).toHaveLength(39)
    expect(() => planRetention(candidates, {})).toThrow(/no keep rule/)
  })

  it.each(expressible.map(c => [c.file, JSON.stringify(c.policy), c] as const))(
    '%s %s keeps exactly what restic keeps, for the same reasons',
    (_file, _text, c) => {
      const decisions = planRetention(candidates, toPolicy(c.policy), { now: new Date('2026-01-01T00:00:00Z') })
      // 'newest' is our own guarantee on top of the rules (README); restic's golden data has no such rule.
      const byRule = decisions
        .map(d => ({ snapshot: indexOf.get(d.id), reasons: d.reasons.filter(r => r !== 'newest').sort() }))
        .filter(d => d.reasons.length > 0)
      expect(byRule).toEqual(c.keep.map(k => ({ snapshot: k.snapshot, reasons: toReasons(k.matches) })))
    }
  )
})
