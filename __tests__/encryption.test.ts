import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { generateKeyPair } from '../src/pipeline/age.js'
import { encryptStream, type EncryptionMode } from '../src/pipeline/encryption.js'
import { withGpgHome } from '../src/pipeline/gpg-home.js'
import { Secrets } from '../src/secrets.js'
import { readAll } from '../src/storage/storage.js'

/** encryptStream: the one function any encrypted object that is not a program's output goes through. */
let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'enc-test-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const plain = Buffer.from('id,name\n1,Ada\n2,Grace\n'.repeat(5000))
const encrypt = (mode: EncryptionMode, input: Readable) =>
  withGpgHome(async gpgHome => readAll(await encryptStream(mode, input, { gpgHome, secrets: new Secrets() })))

test('age mode: the stock age CLI opens the output', async () => {
  const pair = await generateKeyPair(new Date())
  writeFileSync(join(dir, 'key.txt'), pair.file)
  writeFileSync(join(dir, 'out.age'), await encrypt({ kind: 'age', recipients: [pair.recipient] }, Readable.from([plain])))
  expect(execFileSync('age', ['-d', '-i', join(dir, 'key.txt'), join(dir, 'out.age')]).equals(plain)).toBe(true)
})

test('passphrase mode: gpg --decrypt opens the output; none passes bytes through', async () => {
  writeFileSync(join(dir, 'out.gpg'), await encrypt({ kind: 'passphrase', passphrase: 'pw 123' }, Readable.from([plain])))
  writeFileSync(join(dir, 'pass'), 'pw 123')
  const home = mkdtempSync(join(tmpdir(), 'gpg-'))
  const opened = execFileSync('gpg', [
    '--homedir',
    home,
    '--batch',
    '--quiet',
    '--pinentry-mode',
    'loopback',
    '--passphrase-file',
    join(dir, 'pass'),
    '--decrypt',
    join(dir, 'out.gpg')
  ])
  rmSync(home, { recursive: true, force: true })
  expect(opened.equals(plain)).toBe(true)
  expect((await encrypt({ kind: 'none' }, Readable.from([plain]))).equals(plain)).toBe(true)
})

test('a failing source fails the encrypted stream in both modes', async () => {
  const failing = () =>
    new Readable({
      read() {
        this.destroy(new Error('source broke'))
      }
    })
  const pair = await generateKeyPair(new Date())
  await expect(encrypt({ kind: 'age', recipients: [pair.recipient] }, failing())).rejects.toThrow(/source broke/)
  await expect(encrypt({ kind: 'passphrase', passphrase: 'pw 123' }, failing())).rejects.toThrow(/source broke|gpg/)
})
