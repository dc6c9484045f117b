import { listBackups, resolveBackup } from '../catalog/catalog.js'
import { sizeCheck, tocChecks, type Check } from '../catalog/checks.js'
import { type Manifest } from '../model/manifest.js'
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
import { clientOptions, configuredSetName, readableStorage, type Context } from './context.js'

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
  if (!data) return [{ name: 'manifest', ok: false, detail: 'the manifest lists no data object' }]
  const tools = manifest.format === 'custom' ? await archiveReader('custom', manifest.tools.pgDump, clientOptions(ctx)) : undefined

  await withGpgHome(async gpgHome => {
    const options = { passphrase: ctx.settings.encryptionPassphrase, gpgHome, secrets: ctx.secrets }
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
      return
    }
    if (text.status === 'rejected') {
      checks.push({ name: 'archive readable', ok: false, detail: errorMessage(text.reason) })
      return
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
    for (const extra of manifest.objects.filter(o => o.role !== 'data')) {
      const back = await readBack(storage, manifest, extra, options)
      back.output.resume()
      const outcome = await back.done.then(
        () => undefined,
        (error: unknown) => errorMessage(error)
      )
      checks.push({ name: `${extra.role} object`, ok: outcome === undefined, detail: outcome ?? `${extra.file} matches its checksum and decodes` })
    }
  })

  const earlier = (await listBackups(storage, manifest.name))
    .filter(b => b.complete && b.id < manifest.id && b.kind === manifest.kind)
    .map(b => b.files.find(f => f.key.endsWith(dataSuffix(data.file)))?.size)
    .filter((s): s is number => s !== undefined)
    .slice(0, 10)
  checks.push(sizeCheck(data.size, earlier, ctx.settings.maxSizeChange))
  return checks
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
  const list = startChain([{ name: 'pg_restore --list', command: tools.bin('pg_restore'), args: ['--list'], env: tools.env }], ctx.secrets, { input: 'pipe' })
  const [listing] = await Promise.all([readAll(list.output), pipeline(stream, forwardWhileOpen(list.input!)), list.done])
  return listing.toString('utf8')
}
