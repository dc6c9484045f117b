import { listBackups, resolveBackup } from '../catalog/catalog.js'
import { sizeCheck, tocChecks, type Check } from '../catalog/checks.js'
import { type Manifest, type ManifestObject } from '../model/manifest.js'
import { BackupError, errorMessage } from '../errors.js'
import { withGpgHome } from '../pipeline/gpg-home.js'
import type { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { startChain } from '../pipeline/chain.js'
import { checkStoredObject, forwardWhileOpen, readBack, StoredObjectError } from '../pipeline/readback.js'
import { canDecrypt, type DecryptionKeys } from '../pipeline/encryption.js'
import { decompressStage } from '../pipeline/stages.js'
import { parseToc } from '../postgres/toc.js'
import { archiveReader, type ClientTools } from '../postgres/tools.js'
import { verifySummary } from '../report/summary.js'
import type { Storage } from '../storage/storage.js'
import { readAll } from '../storage/storage.js'
import { clientOptions, configuredSetName, decryptionKeys, readableStorage, type Context } from './context.js'
import { filesChecks } from '../files/check.js'

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
  const manifest = await resolveBackup(readableStorage(ctx), configuredSetName(ctx), ctx.settings.backupRef, ctx.host.warning)
  const checks = await checkBackup(ctx, manifest)
  const failed = checks.filter(c => !c.ok)
  if (failed.length > 0) throw new BackupError(`Verify failed for backup ${manifest.id}: ${describeChecks(failed)}`)
  return { manifest, checks, ok: true }
}

/**
 * Runs every check on a stored backup (its manifest may not be published yet) and reports them.
 * `contents` is the archive's listing taken on its way in, before encryption (a backup to age
 * public keys checks its own contents that way, without the private key).
 */
export async function checkBackup(ctx: Context, manifest: Manifest, contents?: Promise<string>): Promise<Check[]> {
  const checks = await runChecks(ctx, readableStorage(ctx), manifest, contents)
  await ctx.host.summary(verifySummary(manifest, checks))
  if (checks.every(c => c.ok)) ctx.host.info(`Verified backup ${manifest.id}: ${checks.map(c => c.name).join(', ')} passed`)
  return checks
}

export function describeChecks(checks: Check[]): string {
  return checks.map(c => `${c.name}: ${c.detail}`).join('; ')
}

async function runChecks(ctx: Context, storage: Storage, manifest: Manifest, contents?: Promise<string>): Promise<Check[]> {
  const data = manifest.objects.find(o => o.role === 'data')
  const keys = decryptionKeys(ctx)
  if (!data) {
    // A set that holds only CSV exports (exports-name) has backups without a dump.
    if (!manifest.objects.some(o => o.role === 'export')) return [{ name: 'manifest', ok: false, detail: 'the manifest lists no data object' }]
    if (manifest.encryption?.algorithm === 'age-x25519' && !(await canDecrypt(manifest.encryption, keys))) return storedChecks(storage, manifest)
    return withGpgHome(gpgHome => objectChecks(storage, manifest, manifest.objects, { keys, gpgHome, secrets: ctx.secrets }))
  }
  let checks: Check[]
  if (contents) {
    checks = [...(await storedChecks(storage, manifest)), ...(await contentChecks(ctx, manifest, contents))]
  } else if (manifest.encryption?.algorithm === 'age-x25519' && !(await canDecrypt(manifest.encryption, keys))) {
    checks = await storedChecks(storage, manifest)
    const detail = `SKIPPED: no encryption-private-key for ${manifest.encryption.recipients.join(', ')}; checked the checksum, sizes, manifest and age header only`
    ctx.host.warning(`verify of ${manifest.id}: content checks (archive readable, tables) were skipped: ${detail}`)
    checks.push({ name: 'contents', ok: true, detail })
  } else {
    checks = await readBackChecks(ctx, storage, manifest, data, keys)
  }

  const earlier = (await listBackups(storage, manifest.name))
    .filter(b => b.complete && b.id < manifest.id && b.kind === manifest.kind)
    .map(b => b.files.find(f => f.key.endsWith(dataSuffix(data.file)))?.size)
    .filter((s): s is number => s !== undefined)
    .slice(0, 10)
  checks.push(sizeCheck(data.size, earlier, ctx.settings.maxSizeChange))
  if (manifest.files) checks.push(...(await filesChecks(storage, manifest.name, manifest.id)))
  return checks
}

/** Every object read whole (not decrypted): sizes, sha256 and, for age files, the header. */
async function storedChecks(storage: Storage, manifest: Manifest): Promise<Check[]> {
  const checks: Check[] = []
  for (const object of manifest.objects) {
    const name = object.role === 'data' ? 'checksum' : `${object.role} object`
    const detail = await checkStoredObject(storage, manifest, object).then(
      ok => ({ ok: true, detail: ok }),
      (error: unknown) => ({ ok: false, detail: errorMessage(error) })
    )
    checks.push({ name, ...detail })
  }
  return checks
}

/** The archive's table of contents (or a plain dump's ending) against the manifest. */
async function contentChecks(ctx: Context, manifest: Manifest, listing: Promise<string>): Promise<Check[]> {
  let body: string
  try {
    body = await listing
  } catch (error) {
    return [{ name: 'archive readable', ok: false, detail: errorMessage(error) }]
  }
  if (manifest.format === 'custom') {
    const toc = parseToc(body)
    return [
      { name: 'archive readable', ok: toc.length > 0, detail: `pg_restore lists ${toc.length} entries` },
      ...tocChecks(manifest, toc, ctx.settings.criticalTables)
    ]
  }
  const complete = body.includes('PostgreSQL database dump complete')
  return [{ name: 'archive readable', ok: complete, detail: complete ? 'plain SQL dump, ends with its completion marker' : 'plain SQL dump is truncated' }]
}

/** Reads every object back through decryption and decompression, and checks the archive. */
async function readBackChecks(ctx: Context, storage: Storage, manifest: Manifest, data: ManifestObject, keys: DecryptionKeys): Promise<Check[]> {
  const checks: Check[] = []
  const tools = await contentTools(ctx, manifest)
  await withGpgHome(async gpgHome => {
    const options = { keys, gpgHome, secrets: ctx.secrets }
    const reading = await readBack(storage, manifest, data, options)
    const text = consume(reading.output, tools, ctx)
    const [, result] = await Promise.allSettled([text, reading.done])
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
    checks.push({ name: 'checksum', ok: true, detail: `${data.size} bytes, sha256 ${data.sha256} matches the manifest` })
    checks.push(...(await contentChecks(ctx, manifest, text)))
    checks.push(
      ...(await objectChecks(
        storage,
        manifest,
        manifest.objects.filter(o => o.role !== 'data'),
        options
      ))
    )
  })
  return checks
}

/** Objects besides the dump, read back whole; an export's rows are counted again from its CSV. */
async function objectChecks(
  storage: Storage,
  manifest: Manifest,
  objects: ManifestObject[],
  options: { keys: DecryptionKeys; gpgHome: string; secrets: Context['secrets'] }
): Promise<Check[]> {
  const checks: Check[] = []
  for (const extra of objects) {
    const back = await readBack(storage, manifest, extra, options)
    const records = extra.export ? countCsvRecords(back.output) : (back.output.resume(), Promise.resolve(0))
    const outcome = await Promise.all([records, back.done]).then(
      ([count]) =>
        extra.export && count - 1 !== extra.export.rows ? `${extra.file} holds ${count - 1} rows, the manifest says ${extra.export.rows}` : undefined,
      (error: unknown) => errorMessage(error)
    )
    const name = extra.export ? `export ${extra.export.name}` : `${extra.role} object`
    const good = `${extra.export ? `${extra.export.rows} rows; ` : ''}${extra.file} matches its checksum and decodes`
    checks.push({ name, ok: outcome === undefined, detail: outcome ?? good })
  }
  return checks
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

async function contentTools(ctx: Context, manifest: Pick<Manifest, 'format' | 'tools'>): Promise<ClientTools | undefined> {
  return manifest.format === 'custom' ? archiveReader('custom', manifest.tools.pgDump, clientOptions(ctx)) : undefined
}

/**
 * Lists the contents of a backup's plaintext (compressed, not yet encrypted) while the backup
 * writes it: the returned `input` takes a copy of the bytes (and drops them once the listing
 * needs no more), `listing` resolves to what verify checks.
 */
export async function listWhileWriting(
  ctx: Context,
  manifest: Pick<Manifest, 'format' | 'tools' | 'compression'>
): Promise<{ input: Writable; listing: Promise<string>; stop(): void }> {
  const tools = await contentTools(ctx, manifest)
  const chain = startChain([decompressStage(manifest.compression.algorithm) ?? { name: 'cat', command: 'cat', args: [] }], ctx.secrets, { input: 'pipe' })
  const listing = Promise.all([consume(chain.output, tools, ctx), chain.done]).then(([text]) => text)
  listing.catch(() => undefined)
  return { input: forwardWhileOpen(chain.input!), listing, stop: chain.kill }
}

/** The file name after the id (".dump.zst.gpg"), to find the same object of earlier backups. */
export function dataSuffix(file: string): string {
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
