import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve, sep } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
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
    const path = this.locate(key)
    await mkdir(dirname(path), { recursive: true })
    const partial = `${path}.partial-${process.pid}`
    try {
      await pipeline(body, createWriteStream(partial, { mode: 0o600 }))
      await syncFile(partial)
      await rename(partial, path)
    } catch (error) {
      await rm(partial, { force: true })
      throw error
    }
  }

  async put(key: string, body: string | Buffer): Promise<void> {
    const path = this.locate(key)
    await mkdir(dirname(path), { recursive: true })
    const partial = `${path}.partial-${process.pid}`
    await writeFile(partial, body, { mode: 0o600 })
    await syncFile(partial)
    await rename(partial, path)
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
          const info = await stat(path)
          out.push({ key: relative(this.root, path).split(sep).join('/'), size: info.size, modified: info.mtime })
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
