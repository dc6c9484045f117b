import { deleteBackupFiles, listBackups, withTags, type BackupEntry } from '../catalog/catalog.js'
import { layout } from '../catalog/manifest.js'
import { planRetention, type PlanOptions, type RetentionPolicy } from '../catalog/retention.js'
import { InputError } from '../errors.js'
import type { BackupKind } from '../model/vocabulary.js'
import type { Storage } from '../storage/storage.js'
import { pruneSummary, type PruneDecision, type PruneReason, type PruneResult, type StoragePrune } from '../report/prune-summary.js'
import { configuredSetName, readableStorages, type Context } from './context.js'
import { sweepAfterPrune } from '../files/commands.js'
import { pruneHold } from './drift-guard.js'

/** An upload this much older than now with no manifest is taken to have died, not to be running. */
export const UNFINISHED_AFTER_MS = 24 * 3_600_000

export interface PruneOptions {
  kind?: BackupKind
  /** Ids that are never deleted, whatever the policy says. */
  protect?: string[]
  /** The set to prune; default: configuredSetName(ctx). */
  name?: string
}

/**
 * Applies the retention policy to one kind of backup in one set, in every readable storage.
 * Deletes the manifests of every pruned backup first, then their other files: an interrupted
 * prune leaves unfinished uploads (cleaned up next time), never a manifest without its data.
 */
export async function prune(ctx: Context, options: PruneOptions = {}): Promise<PruneResult> {
  const { settings, host } = ctx
  const kind = options.kind ?? settings.kind
  const name = options.name ?? configuredSetName(ctx)
  const storages = readableStorages(ctx)
  if (storages.length === 0) throw new InputError('storage', 'prune reads backups back; include s3 or local')
  // Every storage listed once, before anything is deleted: a listing that fails leaves all of them untouched.
  const listings = []
  for (const storage of storages) listings.push({ storage, listed: await listBackups(storage, name) })
  const held = await pruneHold(ctx, listings, name, kind)
  if (held) return held

  const plans = []
  for (const { storage, listed } of listings) {
    // Tags live in the manifests: read only when keep-tag asks for them.
    const backups = settings.retention.tags?.length ? await withTags(storage, name, listed) : listed
    plans.push({
      storage,
      location: storage.locate(layout.setPrefix(name)),
      ...planPrune(backups, kind, settings.retention, new Set(options.protect), { now: ctx.now(), timeZone: settings.retentionTimeZone })
    })
  }

  // Prune never fights a lock: a backup still under retention stays, reported with its date.
  for (const plan of plans) await holdLocked(plan)

  for (const plan of plans) {
    const kept = plan.decisions.filter(d => d.keep).length
    const unfinished = plan.unfinished.length > 0 ? `, and ${plan.unfinished.length} unfinished upload(s) older than a day` : ''
    host.info(
      `prune ${name} (${kind}) in ${plan.location}: keeping ${kept}, ${settings.dryRun ? 'would delete' : 'deleting'} ${plan.decisions.length - kept}${unfinished}`
    )
    if (!settings.dryRun) await deleteBackupFiles(plan.storage, name, plan.doomed)
    // Then the file contents no remaining backup references.
    if (!settings.dryRun) await sweepAfterPrune(ctx, plan.storage, name)
  }

  const storagesOut: StoragePrune[] = plans.map(p => ({ location: p.location, decisions: p.decisions, unfinished: p.unfinished.map(b => b.id) }))
  const ids = (pick: (s: StoragePrune) => string[]) => [...new Set(storagesOut.flatMap(pick))].sort().reverse()
  const result: PruneResult = {
    name,
    kind,
    dryRun: settings.dryRun,
    kept: ids(s => s.decisions.filter(d => d.keep).map(d => d.id)),
    deleted: ids(s => s.decisions.filter(d => !d.keep).map(d => d.id)),
    unfinished: ids(s => s.unfinished),
    retained: storagesOut.flatMap(s => s.decisions.flatMap(d => (d.retainedUntil ? [{ id: d.id, until: d.retainedUntil }] : []))),
    storages: storagesOut
  }
  await host.summary(pruneSummary(result))
  return result
}

/** Takes backups still under Object Lock retention out of `doomed`, and marks their decisions. */
async function holdLocked(plan: { storage: Storage; decisions: PruneDecision[]; unfinished: BackupEntry[]; doomed: BackupEntry[] }): Promise<void> {
  if (!plan.storage.lockedUntil) return
  const held = new Map<string, Date>()
  for (const backup of plan.doomed) {
    const until = await plan.storage.lockedUntil(backup.files.map(f => f.key))
    if (until) held.set(backup.id, until)
  }
  if (held.size === 0) return
  plan.doomed = plan.doomed.filter(b => !held.has(b.id))
  plan.unfinished = plan.unfinished.filter(b => !held.has(b.id))
  for (const decision of plan.decisions) {
    const until = held.get(decision.id)
    if (until) Object.assign(decision, { keep: true, reasons: [...decision.reasons, 'locked'], retainedUntil: until.toISOString() })
  }
}

/**
 * Decides, from one storage's listing, which backups go. Only complete backups of `kind` are
 * candidates (each kind keeps its own slots); the newest complete backup of the whole set and
 * `protect` ids always stay; unfinished uploads older than a day go unless pinned or protected.
 */
export function planPrune(backups: BackupEntry[], kind: BackupKind, policy: RetentionPolicy, protect: Set<string>, plan: PlanOptions & { now: Date }) {
  const { now } = plan
  const complete = backups.filter(b => b.complete)
  const newestOfSet = complete.reduce<BackupEntry | undefined>((a, b) => (a && a.id > b.id ? a : b), undefined)?.id
  const group = complete.filter(b => b.kind === kind)
  const decisions: PruneDecision[] = planRetention(
    group.map(b => ({ id: b.id, time: b.time, pinned: b.pinned, tags: b.tags })),
    policy,
    plan
  ).map(d => {
    const reasons: PruneReason[] = [...d.reasons]
    if (d.id === newestOfSet && !reasons.includes('newest')) reasons.push('newest')
    if (protect.has(d.id)) reasons.push('protected')
    return { ...d, keep: reasons.length > 0, reasons }
  })
  const cutoff = now.getTime() - UNFINISHED_AFTER_MS
  const unfinished = backups.filter(b => !b.complete && !b.pinned && !protect.has(b.id) && b.time.getTime() < cutoff)
  const deleted = new Set(decisions.filter(d => !d.keep).map(d => d.id))
  const doomed = [...group.filter(b => deleted.has(b.id)), ...unfinished]
  return { decisions, unfinished, doomed }
}
