import { afterAll, describe, expect, test } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassphraseKey } from '../src/pipeline/openpgp.js'

const PASSPHRASE = 'pass word ünïcode'
const dir = mkdtempSync(join(tmpdir(), 'pgb-openpgp-'))
afterAll(() => {
  execFileSync('gpgconf', ['--homedir', dir, '--kill', 'gpg-agent'])
  rmSync(dir, { recursive: true, force: true })
})

const gpg = (...args: string[]) =>
  execFileSync('gpg', ['--homedir', dir, '--batch', '--yes', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', PASSPHRASE, ...args])

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c)
  return Buffer.concat(chunks)
}
async function* pieces(data: Buffer, size = 1000) {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size)
}

describe('in-process OpenPGP encryption of file contents', () => {
  const key = new PassphraseKey(PASSPHRASE)
  test.each([0, 5, 600, 65536, 65537, 300_000])('%d bytes: gpg --decrypt opens it, and it opens what gpg --symmetric writes', async n => {
    const data = randomBytes(n)
    const encrypted = await collect(key.encrypt(pieces(data)))
    writeFileSync(join(dir, 'ours.gpg'), encrypted)
    expect(gpg('--decrypt', join(dir, 'ours.gpg')).equals(data)).toBe(true)
    expect((await collect(key.decrypt(pieces(encrypted, 777)))).equals(data)).toBe(true)

    writeFileSync(join(dir, 'plain'), data)
    gpg(
      '--symmetric',
      '--cipher-algo',
      'AES256',
      '--s2k-digest-algo',
      'SHA512',
      '--compress-algo',
      'none',
      '--output',
      join(dir, 'theirs.gpg'),
      join(dir, 'plain')
    )
    expect((await collect(key.decrypt(pieces(readFileSync(join(dir, 'theirs.gpg')))))).equals(data)).toBe(true)
  })

  test('a wrong passphrase, a flipped byte and a truncation all fail', async () => {
    const data = randomBytes(100_000)
    const encrypted = await collect(key.encrypt(pieces(data)))
    await expect(collect(new PassphraseKey('wrong').decrypt(pieces(encrypted)))).rejects.toThrow(/passphrase is wrong|integrity/)
    const flipped = Buffer.from(encrypted)
    flipped[flipped.length - 5000] ^= 1
    await expect(collect(key.decrypt(pieces(flipped)))).rejects.toThrow(/integrity check/)
    await expect(collect(key.decrypt(pieces(encrypted.subarray(0, encrypted.length - 10))))).rejects.toThrow(/truncated/)
  })
})
