import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual, type Hash } from 'node:crypto'
import { Readable } from 'node:stream'
import { BackupError } from '../errors.js'

/**
 * OpenPGP (RFC 4880) passphrase encryption in-process, for the many small file contents of a
 * Storage snapshot where one gpg process per file would be far too slow: the output is what
 * `gpg --symmetric --cipher-algo AES256` writes (a SKESK v4 packet with an iterated+salted
 * SHA-512 S2K, then an integrity-protected SEIPD v1 packet with MDC), so a plain
 * `gpg --decrypt` opens it. The S2K runs once per key (one salt per run); each content gets
 * its own random session key, stored encrypted in its SKESK.
 */

const AES256 = 9
const SHA512 = 10
/** OpenPGP hash ids an S2K may use (those at least as long as the AES-256 key) → Node's names. */
const S2K_HASHES: Record<number, string> = { 8: 'sha256', 10: 'sha512' }
const S2K_COUNT_BYTE = 0xff // 65,011,712 bytes hashed: gpg's maximum, as the dumps use
const CHUNK = 1 << 16 // partial body length of each streamed packet chunk
const ZERO_IV = Buffer.alloc(16)

function s2kCount(byte: number): number {
  return (16 + (byte & 15)) << ((byte >> 4) + 6)
}

/** Iterated and salted S2K (RFC 4880 3.7.1.3): salt‖passphrase repeated until `count` bytes are hashed. */
function s2k(passphrase: string, salt: Buffer, countByte: number, hashName: string): Buffer {
  const unit = Buffer.concat([salt, Buffer.from(passphrase, 'utf8')])
  const count = Math.max(s2kCount(countByte), unit.length)
  const hash = createHash(hashName)
  // Hashed in large blocks of whole units, then the partial tail.
  const big = Buffer.concat(Array.from({ length: Math.max(1, Math.floor((1 << 16) / unit.length)) }, () => unit))
  let left = count
  while (left >= big.length) {
    hash.update(big)
    left -= big.length
  }
  hash.update(big.subarray(0, left))
  return hash.digest().subarray(0, 32)
}

function lengthHeader(length: number): Buffer {
  if (length < 192) return Buffer.from([length])
  if (length < 8384) return Buffer.from([((length - 192) >> 8) + 192, (length - 192) & 0xff])
  const b = Buffer.alloc(5)
  b[0] = 0xff
  b.writeUInt32BE(length, 1)
  return b
}

/** Wraps a byte stream as one new-format packet of `tag` with partial body lengths. */
async function* packet(tag: number, body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield Buffer.from([0xc0 | tag])
  let pending: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    pending.push(chunk)
    size += chunk.length
    while (size >= CHUNK) {
      const all = Buffer.concat(pending)
      yield Buffer.from([0xe0 + 16])
      yield all.subarray(0, CHUNK)
      pending = [all.subarray(CHUNK)]
      size -= CHUNK
    }
  }
  const rest = Buffer.concat(pending)
  yield lengthHeader(rest.length)
  if (rest.length > 0) yield rest
}

/** A key derived from a passphrase, reusable for many contents (its salt is stored in each). */
export class PassphraseKey {
  private readonly derived = new Map<string, Buffer>()
  readonly salt = randomBytes(8)

  constructor(private readonly passphrase: string) {}

  key(salt: Buffer, countByte: number, hashId = SHA512): Buffer {
    const id = `${salt.toString('hex')}:${countByte}:${hashId}`
    let key = this.derived.get(id)
    if (!key) {
      key = s2k(this.passphrase, salt, countByte, S2K_HASHES[hashId])
      this.derived.set(id, key)
    }
    return key
  }

  /** The encrypted form of `plain`, as gpg --symmetric would write it. */
  encrypt(plain: AsyncIterable<Buffer>): Readable {
    const sessionKey = randomBytes(32)
    const wrapped = createCipheriv('aes-256-cfb', this.key(this.salt, S2K_COUNT_BYTE), ZERO_IV).update(Buffer.concat([Buffer.from([AES256]), sessionKey]))
    const skesk = Buffer.concat([Buffer.from([4, AES256, 3, SHA512]), this.salt, Buffer.from([S2K_COUNT_BYTE]), wrapped])
    async function* inner(): AsyncGenerator<Buffer> {
      const cipher = createCipheriv('aes-256-cfb', sessionKey, ZERO_IV)
      const mdc = createHash('sha1')
      const emit = (bytes: Buffer): Buffer => {
        mdc.update(bytes)
        return cipher.update(bytes)
      }
      const prefix = randomBytes(16)
      yield Buffer.concat([Buffer.from([1]), emit(Buffer.concat([prefix, prefix.subarray(14)]))])
      const literal = packet(11, prefixed(Buffer.from([0x62, 0, 0, 0, 0, 0]), plain))
      for await (const bytes of literal) yield emit(bytes)
      const trailer = Buffer.from([0xd3, 0x14])
      yield emit(trailer)
      yield Buffer.concat([cipher.update(mdc.digest()), cipher.final()])
    }
    async function* whole(): AsyncGenerator<Buffer> {
      yield Buffer.concat([Buffer.from([0xc3]), lengthHeader(skesk.length), skesk])
      yield* packet(18, inner())
    }
    return Readable.from(whole(), { objectMode: false })
  }

  /** The plaintext of content written by `encrypt` (or by gpg --symmetric with AES-256 and MDC). */
  decrypt(source: AsyncIterable<Buffer>): Readable {
    return Readable.from(this.decrypting(source), { objectMode: false })
  }

  private async *decrypting(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    const outer = new ByteReader(source)
    const skeskBody = await outer.read(await packetLength(outer, 3))
    if (skeskBody[0] !== 4 || skeskBody[1] !== AES256 || skeskBody[2] !== 3 || (skeskBody.length !== 13 && skeskBody.length !== 13 + 33)) {
      throw new BackupError('encrypted content: unsupported OpenPGP key packet (expected AES-256 with an iterated, salted S2K)')
    }
    if (!S2K_HASHES[skeskBody[3]]) throw new BackupError('encrypted content: unsupported S2K hash')
    const kek = this.key(skeskBody.subarray(4, 12), skeskBody[12], skeskBody[3])
    // Without an encrypted session key (gpg's own choice), the S2K key is the session key.
    const session =
      skeskBody.length === 13 ? Buffer.concat([Buffer.from([AES256]), kek]) : createDecipheriv('aes-256-cfb', kek, ZERO_IV).update(skeskBody.subarray(13))
    if (session[0] !== AES256) throw new BackupError('encrypted content could not be opened: the encryption-passphrase is wrong')
    const decipher = createDecipheriv('aes-256-cfb', session.subarray(1), ZERO_IV)
    const header = await outer.read(1)
    if ((header[0] & 0x3f) !== 18 || (header[0] & 0xc0) !== 0xc0) throw new BackupError('encrypted content: expected an integrity-protected data packet')
    async function* plainBytes(): AsyncGenerator<Buffer> {
      let first = true
      for await (let chunk of packetBody(outer)) {
        if (first) {
          if (chunk[0] !== 1) throw new BackupError('encrypted content: unsupported data packet version')
          chunk = chunk.subarray(1)
          first = false
        }
        if (chunk.length > 0) yield decipher.update(chunk)
      }
      const tail = decipher.final()
      if (tail.length > 0) yield tail
      if (!(await outer.atEnd())) throw new BackupError('encrypted content: unexpected bytes after the data packet')
    }
    const mdc = createHash('sha1')
    const inner = new ByteReader(plainBytes(), mdc)
    const prefix = await inner.read(18)
    if (prefix[14] !== prefix[16] || prefix[15] !== prefix[17])
      throw new BackupError('encrypted content could not be opened: the encryption-passphrase is wrong')
    const literalHeader = await inner.read(1)
    const newFormat = (literalHeader[0] & 0xc0) === 0xc0
    if ((newFormat ? literalHeader[0] & 0x3f : (literalHeader[0] >> 2) & 15) !== 11) throw new BackupError('encrypted content: expected a literal data packet')
    // format octet, length-prefixed file name, 4-byte date, then the data
    const literal = new ByteReader(newFormat ? packetBody(inner) : oldPacketBody(inner, literalHeader[0] & 3))
    const head = await literal.read(2)
    await literal.read(head[1] + 4)
    while (!(await literal.atEnd())) yield await literal.some(CHUNK)
    const trailer = await inner.read(2)
    if (trailer[0] !== 0xd3 || trailer[1] !== 0x14) throw new BackupError('encrypted content: missing integrity check (MDC)')
    const expected = (inner.hash as Hash).digest()
    inner.hash = undefined
    const stored = await inner.read(20)
    if (!timingSafeEqual(expected, stored)) throw new BackupError('encrypted content failed its integrity check (MDC): it was modified')
    if (!(await inner.atEnd())) throw new BackupError('encrypted content: unexpected bytes after the integrity check')
  }
}

async function* prefixed(head: Buffer, rest: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield head
  for await (const chunk of rest) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)
}

/** Reads a packet header of the expected tag with a definite length. */
async function packetLength(reader: ByteReader, tag: number): Promise<number> {
  const header = await reader.read(1)
  if ((header[0] & 0xc0) === 0xc0) {
    if ((header[0] & 0x3f) !== tag) throw new BackupError(`encrypted content: expected OpenPGP packet ${tag}, found ${header[0] & 0x3f}`)
    const { length, partial } = await newLength(reader)
    if (partial) throw new BackupError('encrypted content: unexpected partial length')
    return length
  }
  if ((header[0] & 0x80) === 0x80 && ((header[0] >> 2) & 15) === tag) {
    const type = header[0] & 3
    if (type === 0) return (await reader.read(1))[0]
    if (type === 1) return (await reader.read(2)).readUInt16BE(0)
    if (type === 2) return (await reader.read(4)).readUInt32BE(0)
  }
  throw new BackupError('encrypted content: not an OpenPGP message this action can open')
}

async function newLength(reader: ByteReader): Promise<{ length: number; partial: boolean }> {
  const first = (await reader.read(1))[0]
  if (first < 192) return { length: first, partial: false }
  if (first < 224) return { length: ((first - 192) << 8) + (await reader.read(1))[0] + 192, partial: false }
  if (first === 255) return { length: (await reader.read(4)).readUInt32BE(0), partial: false }
  return { length: 1 << (first & 0x1f), partial: true }
}

/** The body of a new-format packet whose tag octet was just read, following partial lengths. */
async function* packetBody(reader: ByteReader): AsyncGenerator<Buffer> {
  for (;;) {
    const { length, partial } = await newLength(reader)
    let left = length
    while (left > 0) {
      const chunk = await reader.some(left)
      left -= chunk.length
      yield chunk
    }
    if (!partial) return
  }
}

/** The body of an old-format packet (gpg writes its literal packets so), definite lengths only. */
async function* oldPacketBody(reader: ByteReader, type: number): AsyncGenerator<Buffer> {
  if (type === 3) throw new BackupError('encrypted content: indeterminate packet length')
  let left = type === 0 ? (await reader.read(1))[0] : type === 1 ? (await reader.read(2)).readUInt16BE(0) : (await reader.read(4)).readUInt32BE(0)
  while (left > 0) {
    const chunk = await reader.some(left)
    left -= chunk.length
    yield chunk
  }
}

/** Exact-length reads over a stream of chunks; optionally hashes every byte it hands out. */
class ByteReader {
  private buffer: Buffer = Buffer.alloc(0)
  private readonly it: AsyncIterator<Buffer>
  private ended = false

  constructor(
    source: AsyncIterable<Buffer>,
    public hash?: Hash
  ) {
    this.it = source[Symbol.asyncIterator]()
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false
    const next = await this.it.next()
    if (next.done) {
      this.ended = true
      return false
    }
    this.buffer = this.buffer.length === 0 ? next.value : Buffer.concat([this.buffer, next.value])
    return true
  }

  private take(n: number): Buffer {
    const out = this.buffer.subarray(0, n)
    this.buffer = this.buffer.subarray(n)
    this.hash?.update(out)
    return out
  }

  async read(n: number): Promise<Buffer> {
    while (this.buffer.length < n) if (!(await this.fill())) throw new BackupError('encrypted content is truncated')
    return this.take(n)
  }

  /** Up to n bytes (at least one). */
  async some(n: number): Promise<Buffer> {
    if (this.buffer.length === 0 && !(await this.fill())) throw new BackupError('encrypted content is truncated')
    return this.take(Math.min(n, this.buffer.length))
  }

  async atEnd(): Promise<boolean> {
    return this.buffer.length === 0 && !(await this.fill())
  }
}
