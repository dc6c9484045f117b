import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve, sep } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { removeOnCancel, throwIfCancelled } from '../cancel.js'
import type { Storage, StoredObject } from './storage.js'

/** A folder on disk. Files are written under a temporary name and renamed when complete. */
export class LocalStorage implements Storage {
  readonly type = 'local' as const
  readonly root: string

  constructor(root: string) {
    this.root = resolve(root)
  }

  locate(key: string): string {
    return join(this.root, ...key.split('/'))
  }

  async upload(key: string, body: Readable): Promise<void> {
    await this.write(key, partial => pipeline(body, createWriteStream(partial, { mode: 0o600 })))
  }

  async put(key: string, body: string | Buffer): Promise<void> {
    await this.write(key, partial => writeFile(partial, body, { mode: 0o600 }))
  }

  /** Writes a file under a name unique to this write (runs may overlap), then renames it into place. */
  private async write(key: string, fill: (partial: string) => Promise<void>): Promise<void> {
    throwIfCancelled()
    const path = this.locate(key)
    await mkdir(dirname(path), { recursive: true })
    const partial = `${path}.partial-${process.pid}-${randomBytes(4).toString('hex')}`
    const release = removeOnCancel(partial)
    try {
      await fill(partial)
      await syncFile(partial)
      await rename(partial, path)
    } catch (error) {
      await rm(partial, { force: true })
      throw error
    } finally {
      release()
    }
  }

  async get(key: string): Promise<Readable> {
    const path = this.locate(key)
    await stat(path)
    return createReadStream(path)
  }

  async list(prefix: string, options: { shallow?: boolean } = {}): Promise<StoredObject[]> {
    const base = this.locate(prefix.replace(/\/+$/, ''))
    const out: StoredObject[] = []
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
      for (const entry of entries) {
        const path = join(dir, entry.name)
        if (entry.isDirectory()) {
          if (!options.shallow) await walk(path)
        } else if (entry.isFile()) {
          // Another run may rename or remove a file between readdir and stat (its .partial- file, a pruned backup).
          const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'ENOENT') return undefined
            throw error
          })
          if (info) out.push({ key: relative(this.root, path).split(sep).join('/'), size: info.size, modified: info.mtime })
        }
      }
    }
    await walk(base)
    return out.sort((a, b) => a.key.localeCompare(b.key))
  }

  async delete(keys: string[]): Promise<void> {
    for (const key of keys) await rm(this.locate(key), { force: true })
  }
}

/** On disk before the rename, so a crash never leaves a complete-looking name over missing bytes. */
async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
