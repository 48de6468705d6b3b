import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { pathToFileURL } from 'node:url'
import { type BackupManifest, parseManifest } from './backup-manifest.js'
import {
  BackupNotFoundError,
  type BackupStore,
  dumpObjectName,
  MANIFEST_SUFFIX,
  manifestObjectName,
} from './backup-store.js'

/** Backups in a local directory (the local target). Writes go to a temporary name, then rename. */
export class FileBackupStore implements BackupStore {
  readonly location: string

  constructor(private readonly dir: string) {
    this.location = pathToFileURL(dir).href
  }

  async putDump(id: string, body: Readable): Promise<{ object: string }> {
    await mkdir(this.dir, { recursive: true })
    const object = dumpObjectName(id)
    const partial = join(this.dir, `${object}.partial`)
    try {
      await pipeline(body, createWriteStream(partial))
      await rename(partial, join(this.dir, object))
    } catch (error) {
      await rm(partial, { force: true })
      throw error
    }
    return { object }
  }

  async getDump(id: string): Promise<Readable> {
    const path = join(this.dir, dumpObjectName(id))
    const stream = createReadStream(path)
    // Surface a missing dump as a clear error now rather than as a stream error later.
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve())
      stream.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'ENOENT' ? new BackupNotFoundError(id, this.location) : error),
      )
    })
    return stream
  }

  async list(): Promise<string[]> {
    let names: string[]
    try {
      names = await readdir(this.dir)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw error
    }
    return names
      .filter((n) => n.endsWith(MANIFEST_SUFFIX))
      .map((n) => n.slice(0, -MANIFEST_SUFFIX.length))
      .sort()
  }

  async readManifest(id: string): Promise<BackupManifest> {
    const path = join(this.dir, manifestObjectName(id))
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new BackupNotFoundError(id, this.location)
      throw error
    }
    return parseManifest(text, path)
  }

  async writeManifest(manifest: BackupManifest): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const path = join(this.dir, manifestObjectName(manifest.id))
    await writeFile(`${path}.partial`, `${JSON.stringify(manifest, null, 2)}\n`)
    await rename(`${path}.partial`, path)
  }
}
