import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ageDecrypter, ageEncrypter, generateKeyPair, parseIdentities, parseRecipients } from '../src/pipeline/age.js'
import { readAll } from '../src/storage/storage.js'

/** Interoperability with the stock age CLI (Debian's age 1.1.1), both ways, and failure on damage. */
let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'age-test-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function encrypt(plain: Buffer, recipients: string[]): Promise<Buffer> {
  return readAll(Readable.from([plain]).pipe(await ageEncrypter(recipients)))
}

async function decrypt(sealed: Buffer, identities: string[], pieces = 7): Promise<Buffer> {
  // Odd-sized pieces, so that chunk and header boundaries fall inside writes.
  const parts: Buffer[] = []
  for (let i = 0; i < sealed.length; i += Math.ceil(sealed.length / pieces) || 1) parts.push(sealed.subarray(i, i + Math.ceil(sealed.length / pieces)))
  const out: Buffer[] = []
  await pipeline(Readable.from(parts), ageDecrypter(identities), async source => {
    for await (const chunk of source) out.push(chunk as Buffer)
  })
  return Buffer.concat(out)
}

const sizes = [0, 1, 65536, 65537, 131072, 300001]

test.each(sizes)('%i bytes encrypted here open with `age -d`, and age CLI files open here', async size => {
  const pair = await generateKeyPair(new Date())
  const other = await generateKeyPair(new Date())
  const keyFile = join(dir, `key-${size}.txt`)
  writeFileSync(keyFile, pair.file)
  const plain = Buffer.alloc(size)
  for (let i = 0; i < size; i++) plain[i] = (i * 7919) % 251

  const ours = join(dir, `ours-${size}.age`)
  writeFileSync(ours, await encrypt(plain, [other.recipient, pair.recipient]))
  expect(execFileSync('age', ['-d', '-i', keyFile, ours], { maxBuffer: 1 << 30 }).equals(plain)).toBe(true)

  const theirs = join(dir, `theirs-${size}.age`)
  writeFileSync(join(dir, 'plain'), plain)
  execFileSync('age', ['-r', pair.recipient, '-o', theirs, join(dir, 'plain')])
  expect((await decrypt(readFileSync(theirs), parseIdentities(pair.file))).equals(plain)).toBe(true)
})

test('a truncated, tampered or wrongly keyed file fails the stream', async () => {
  const pair = await generateKeyPair(new Date())
  const stranger = await generateKeyPair(new Date())
  const plain = Buffer.alloc(200_000, 3)
  const sealed = await encrypt(plain, [pair.recipient])
  const ids = [pair.identity]

  await expect(decrypt(sealed.subarray(0, sealed.length - 100), ids)).rejects.toThrow(/truncated|modified/)
  // Cut exactly at a chunk boundary: every remaining chunk authenticates, but none is marked last.
  const header = sealed.length - (3 * (65536 + 16) + (200_000 - 3 * 65536) + 16)
  await expect(decrypt(sealed.subarray(0, header + 65536 + 16), ids)).rejects.toThrow(/authentication/)
  const tampered = Buffer.from(sealed)
  tampered[sealed.length - 5000] ^= 1
  await expect(decrypt(tampered, ids)).rejects.toThrow(/authentication/)
  await expect(decrypt(sealed, [stranger.identity])).rejects.toThrow(/no identity matched/)
  await expect(decrypt(Buffer.from('not age at all\n'.repeat(10)), ids)).rejects.toThrow(/not an age file|truncated/)
  expect((await decrypt(sealed, ids)).equals(plain)).toBe(true)
})

test('recipients and identities parse like age files, and bad ones are named without leaking keys', async () => {
  const a = await generateKeyPair(new Date())
  const b = await generateKeyPair(new Date())
  expect(parseRecipients(`# ops team\n${a.recipient}, ${b.recipient}  # laptop\n\n${a.recipient}`)).toEqual([a.recipient, b.recipient])
  expect(() => parseRecipients('age1pq1abcdef')).toThrow(/post-quantum/)
  expect(() => parseRecipients(a.recipient.slice(0, -1) + (a.recipient.endsWith('q') ? 'p' : 'q'))).toThrow()
  expect(parseIdentities(a.file)).toEqual([a.identity])
  let message = ''
  try {
    parseIdentities(`${a.identity}\n${b.identity.slice(0, -3)}`)
  } catch (error) {
    message = (error as Error).message
  }
  expect(message).toMatch(/entry 2 is not an age X25519 private key/)
  expect(message).not.toContain(b.identity.slice(16, 40))
})
