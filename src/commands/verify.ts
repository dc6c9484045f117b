import { listBackups, resolveBackup } from '../catalog/catalog.js'
import { sizeCheck, tocChecks, type Check } from '../catalog/checks.js'
import { type Manifest, type ManifestObject } from '../model/manifest.js'
import { BackupError, errorMessage } from '../errors.js'
import { withGpgHome } from '../pipeline/gpg-home.js'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { startChain } from '../pipeline/chain.js'
import { forwardWhileOpen, readBack, StoredObjectError } from '../pipeline/readback.js'
import { parseToc } from '../postgres/toc.js'
import { archiveReader, type ClientTools } from '../postgres/tools.js'
import { verifySummary } from '../report/summary.js'
import type { Storage } from '../storage/storage.js'
import { readAll } from '../storage/storage.js'
import { configuredSetName, readableStorage, type Context } from './context.js'

export interface VerifyResult {
  manifest: Manifest
  checks: Check[]
  ok: boolean
}

/**
 * Checks a stored backup without a server: checksum, decryption, decompression,
 * a readable table of contents that holds what the manifest says was dumped, and a
 * size in line with the set's history. Throws when a check fails.
 */
export async function verify(ctx: Context): Promise<VerifyResult> {
  const manifest = await resolveBackup(readableStorage(ctx), configuredSetName(ctx), ctx.settings.backupRef)
  const checks = await checkBackup(ctx, manifest)
  const failed = checks.filter(c => !c.ok)
  if (failed.length > 0) throw new BackupError(`Verify failed for backup ${manifest.id}: ${describeChecks(failed)}`)
  return { manifest, checks, ok: true }
}

/** Runs every check on a stored backup (its manifest may not be published yet) and reports them. */
export async function checkBackup(ctx: Context, manifest: Manifest): Promise<Check[]> {
  const checks = await runChecks(ctx, readableStorage(ctx), manifest)
  await ctx.host.summary(verifySummary(manifest, checks))
  if (checks.every(c => c.ok)) ctx.host.info(`Verified backup ${manifest.id}: ${checks.map(c => c.name).join(', ')} passed`)
  return checks
}

export function describeChecks(checks: Check[]): string {
  return checks.map(c => `${c.name}: ${c.detail}`).join('; ')
}

async function runChecks(ctx: Context, storage: Storage, manifest: Manifest): Promise<Check[]> {
  const checks: Check[] = []
  const data = manifest.objects.find(o => o.role === 'data')
  // A set that holds only CSV exports (exports-name) has backups without a dump.
  if (!data && !manifest.objects.some(o => o.role === 'export')) return [{ name: 'manifest', ok: false, detail: 'the manifest lists no data object' }]
  const tools = data && manifest.format === 'custom' ? await archiveReader('custom', manifest.tools.pgDump, ctx.settings.pgBinDir, ctx.host.env) : undefined

  await withGpgHome(async gpgHome => {
    const options = { passphrase: ctx.settings.encryptionPassphrase, gpgHome, secrets: ctx.secrets }
    if (data && !(await checkDump(ctx, storage, manifest, data, tools, options, checks))) return
    for (const extra of manifest.objects.filter(o => o.role !== 'data')) {
      const back = await readBack(storage, manifest, extra, options)
      const records = extra.export ? countCsvRecords(back.output) : (back.output.resume(), Promise.resolve(0))
      const outcome = await Promise.all([records, back.done]).then(
        ([count]) =>
          extra.export && count - 1 !== extra.export.rows ? `${extra.file} holds ${count - 1} rows, the manifest says ${extra.export.rows}` : undefined,
        (error: unknown) => errorMessage(error)
      )
      const name = extra.export ? `export ${extra.export.name}` : `${extra.role} object`
      const good = extra.export ? `${extra.export.rows} rows; ${extra.file} matches its checksum and decodes` : `${extra.file} matches its checksum and decodes`
      checks.push({ name, ok: outcome === undefined, detail: outcome ?? good })
    }
  })
  if (!data) return checks

  const earlier = (await listBackups(storage, manifest.name))
    .filter(b => b.complete && b.id < manifest.id && b.kind === manifest.kind)
    .map(b => b.files.find(f => f.key.endsWith(dataSuffix(data.file)))?.size)
    .filter((s): s is number => s !== undefined)
    .slice(0, 10)
  checks.push(sizeCheck(data.size, earlier, ctx.settings.maxSizeChange))
  return checks
}

/** Checksum, decoding and table of contents of the dump; false when reading it back failed. */
async function checkDump(
  ctx: Context,
  storage: Storage,
  manifest: Manifest,
  data: ManifestObject,
  tools: ClientTools | undefined,
  options: { passphrase?: string; gpgHome: string; secrets: Context['secrets'] },
  checks: Check[]
): Promise<boolean> {
  const reading = await readBack(storage, manifest, data, options)
  const [text, result] = await Promise.allSettled([consume(reading.output, tools, ctx), reading.done])
  if (result.status === 'rejected') {
    const message = errorMessage(result.reason)
    // The whole object is read even when decoding fails, so only a StoredObjectError leaves the checksum unproven.
    if (result.reason instanceof StoredObjectError) checks.push({ name: 'checksum', ok: false, detail: message })
    else
      checks.push(
        { name: 'checksum', ok: true, detail: `${data.size} bytes, sha256 matches the manifest` },
        { name: 'archive readable', ok: false, detail: message }
      )
    return false
  }
  if (text.status === 'rejected') {
    checks.push({ name: 'archive readable', ok: false, detail: errorMessage(text.reason) })
    return false
  }
  checks.push({ name: 'checksum', ok: true, detail: `${data.size} bytes, sha256 ${data.sha256} matches the manifest` })
  const body = text.value
  if (manifest.format === 'custom') {
    const toc = parseToc(body)
    checks.push({ name: 'archive readable', ok: toc.length > 0, detail: `pg_restore lists ${toc.length} entries` })
    checks.push(...tocChecks(manifest, toc, ctx.settings.criticalTables))
  } else {
    const complete = body.includes('PostgreSQL database dump complete')
    checks.push({
      name: 'archive readable',
      ok: complete,
      detail: complete ? 'plain SQL dump, ends with its completion marker' : 'plain SQL dump is truncated'
    })
  }
  return true
}

/** Records in a CSV stream: line ends outside double quotes (COPY quotes any field holding one). */
async function countCsvRecords(stream: Readable): Promise<number> {
  let records = 0
  let quoted = false
  for await (const chunk of stream) {
    const bytes = chunk as Buffer
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0x22) quoted = !quoted
      else if (bytes[i] === 0x0a && !quoted) records++
    }
  }
  return records
}

/** The file name after the id (".dump.zst.gpg"), to find the same object of earlier backups. */
function dataSuffix(file: string): string {
  return file.slice(file.indexOf('.'))
}

/**
 * pg_restore --list reads only the table of contents, so the rest of the stream is
 * drained past it: decryption and decompression still see every byte. For plain
 * dumps only the tail is kept (the completion marker): memory stays flat.
 */
async function consume(stream: Readable, tools: ClientTools | undefined, ctx: Context): Promise<string> {
  if (!tools) {
    let tail = ''
    for await (const chunk of stream) tail = (tail + chunk.toString()).slice(-4096)
    return tail
  }
  const list = startChain([{ name: 'pg_restore --list', command: tools.bin('pg_restore'), args: ['--list'] }], ctx.secrets, { input: 'pipe' })
  const [listing] = await Promise.all([readAll(list.output), pipeline(stream, forwardWhileOpen(list.input!)), list.done])
  return listing.toString('utf8')
}
