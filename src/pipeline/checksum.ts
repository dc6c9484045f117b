import { createHash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'

/**
 * Passes bytes through while hashing and counting them. When `endWhen` is given the
 * stream only ends once it resolves (every producer exited 0), and fails if it
 * rejects: a consumer never sees a clean end of a truncated dump.
 */
export class Checksum extends Transform {
  private readonly hash = createHash('sha256')
  bytes = 0

  constructor(private readonly endWhen?: Promise<void>) {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk)
    this.bytes += chunk.length
    callback(null, chunk)
  }

  override _flush(callback: TransformCallback): void {
    if (!this.endWhen) return callback()
    this.endWhen.then(() => callback(), callback)
  }

  digest(): string {
    return this.hash.digest('hex')
  }
}
