import type { KeepReason } from '../catalog/retention.js'
import type { BackupKind } from '../model/vocabulary.js'
import { table } from './format.js'

/** 'protected': an id the caller asked to keep (the backup just made); 'locked': Object Lock retention holds it. */
export type PruneReason = KeepReason | 'protected' | 'locked'

export interface PruneDecision {
  id: string
  time: Date
  keep: boolean
  reasons: PruneReason[]
  /** The policy let it go, but Object Lock keeps it until then (ISO date); a later prune deletes it. */
  retainedUntil?: string
}

/** What happened in one storage: each is planned from its own listing. */
export interface StoragePrune {
  /** Where the set lives (s3://bucket/prefix/name/ or a folder). */
  location: string
  /** Every complete backup of the kind, newest first. */
  decisions: PruneDecision[]
  /** Unfinished uploads (no manifest) older than a day, removed. */
  unfinished: string[]
}

export interface PruneResult {
  name: string
  kind: BackupKind
  dryRun: boolean
  /** Ids kept in at least one storage, newest first. */
  kept: string[]
  /** Ids deleted (in a dry run: that would be deleted) from at least one storage, newest first. */
  deleted: string[]
  unfinished: string[]
  /** Backups the policy let go that Object Lock still retains, with the date their lock ends. */
  retained: Array<{ id: string; until: string }>
  storages: StoragePrune[]
}

/** One table per storage: every backup of the pruned kind and the rules that kept it, or its fate. */
export function pruneSummary(result: PruneResult): string {
  const gone = result.dryRun ? 'would delete' : 'deleted'
  const parts = [`## Prune ${result.name} (${result.kind})${result.dryRun ? ': dry run, nothing deleted' : ''}`, '']
  for (const storage of result.storages) {
    const kept = storage.decisions.filter(d => d.keep).length
    parts.push(`\`${storage.location}\`: kept ${kept}, ${gone} ${storage.decisions.length - kept}`, '')
    if (storage.decisions.length > 0) {
      parts.push(
        table(
          ['Backup', 'Kept by'],
          storage.decisions.map(d => [
            d.id,
            d.retainedUntil ? `retained until ${d.retainedUntil.slice(0, 10)} (Object Lock)` : d.keep ? d.reasons.join(', ') : gone
          ])
        ),
        ''
      )
    }
    if (storage.unfinished.length > 0) {
      parts.push(`Unfinished uploads (no manifest, older than a day), ${gone}: ${storage.unfinished.map(id => `\`${id}\``).join(', ')}`, '')
    }
  }
  return parts.join('\n')
}
