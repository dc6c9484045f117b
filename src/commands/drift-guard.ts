import { listBackups, readManifest, type BackupEntry } from '../catalog/catalog.js'
import { rowDropCheck, sizeCheck, type Check } from '../catalog/checks.js'
import { dataObject, layout } from '../catalog/manifest.js'
import { errorMessage } from '../errors.js'
import type { Settings } from '../inputs.js'
import type { Manifest } from '../model/manifest.js'
import type { BackupKind } from '../model/vocabulary.js'
import type { PruneResult } from '../report/prune-summary.js'
import type { Storage } from '../storage/storage.js'
import type { Context } from './context.js'
import { describeChecks, dataSuffix } from './verify.js'

/** A set's backups as monitor and the drift guard read them: the newest two manifests and what came before. */
export interface SetHistory {
  /** Complete database backups, newest first; files-only backups and pre-restore snapshots (of a restore target) left out. */
  backups: BackupEntry[]
  newest?: Manifest
  previous?: Manifest
}

export async function readHistory(storage: Storage, name: string, entries?: BackupEntry[]): Promise<SetHistory> {
  const backups = (entries ?? (await listBackups(storage, name))).filter(b => b.complete && !b.filesOnly && b.kind !== 'pre-restore')
  const [newest, previous] = await Promise.all(backups.slice(0, 2).map(b => readManifest(storage, name, b.id)))
  return { backups, newest, previous }
}

/**
 * What makes the newest backup suspect (pure): a size far from the median of the earlier ones
 * of its kind (max-size-change, as verify), or a table that lost rows or vanished (max-row-drop).
 */
export function driftChecks(history: SetHistory, settings: Pick<Settings, 'maxSizeChange' | 'maxRowDrop'>): Check[] {
  const { newest, previous, backups } = history
  if (!newest) return []
  const data = dataObject(newest)
  const earlier = backups
    .slice(1)
    .filter(b => b.kind === newest.kind)
    .map(b => b.files.find(f => f.key.endsWith(dataSuffix(data.file)))?.size)
    .filter((s): s is number => s !== undefined)
    .slice(0, 10)
  return [sizeCheck(data.size, earlier, settings.maxSizeChange), rowDropCheck(newest, previous, settings.maxRowDrop)]
}

/**
 * Prune's guard: when the newest backup of the set is suspect in any storage, nothing is
 * deleted (a broken run must never rotate the good backups away). Returns the result to report
 * instead of pruning, or undefined when prune may go on.
 */
export async function pruneHold(
  ctx: Context,
  listings: Array<{ storage: Storage; listed: BackupEntry[] }>,
  name: string,
  kind: BackupKind
): Promise<PruneResult | undefined> {
  for (const { storage, listed } of listings) {
    let history: SetHistory
    try {
      history = await readHistory(storage, name, listed)
    } catch (error) {
      // Prune itself never reads manifests: one it cannot read is verify's and monitor's to report.
      ctx.host.info(`Drift guard skipped in ${storage.locate(layout.setPrefix(name))}: ${errorMessage(error)}`)
      continue
    }
    const flagged = driftChecks(history, ctx.settings).filter(c => !c.ok)
    if (flagged.length === 0) continue
    const why = `Prune of "${name}" deleted nothing: the newest backup ${history.newest?.id} in ${storage.locate(layout.setPrefix(name))} looks wrong (${describeChecks(flagged)}). Check it (monitor, verify, drill); prune resumes once a newer backup passes, or raise max-size-change / max-row-drop if the change was intended.`
    ctx.host.warning(why)
    await ctx.host.summary(`## Prune ${name} (${kind}): held\n\n${why}\n`)
    return {
      name,
      kind,
      dryRun: ctx.settings.dryRun,
      kept: history.backups.filter(b => b.kind === kind).map(b => b.id),
      deleted: [],
      unfinished: [],
      retained: [],
      storages: []
    }
  }
  return undefined
}
