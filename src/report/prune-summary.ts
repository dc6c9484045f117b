import type { PruneResult } from '../commands/prune.js'
import { table } from './format.js'

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
          storage.decisions.map(d => [d.id, d.keep ? d.reasons.join(', ') : gone])
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
