import type { Readable } from 'node:stream'
import type { BackupManifest } from './backup-manifest.js'

/**
 * Where backups live: a dump object and its manifest per backup id. A backup exists (is listed)
 * only once its manifest is written, which happens after the dump is complete.
 */
export interface BackupStore {
  /** `file:///dir` or `s3://bucket/prefix`, for messages. */
  readonly location: string
  putDump(id: string, body: Readable): Promise<{ object: string }>
  getDump(id: string): Promise<Readable>
  /** Ids of complete backups, oldest first. */
  list(): Promise<string[]>
  readManifest(id: string): Promise<BackupManifest>
  writeManifest(manifest: BackupManifest): Promise<void>
}

export const dumpObjectName = (id: string): string => `${id}.dump`
export const manifestObjectName = (id: string): string => `${id}.manifest.json`
export const MANIFEST_SUFFIX = '.manifest.json'

export class BackupNotFoundError extends Error {
  constructor(id: string, location: string) {
    super(`backup ${id} not found in ${location}`)
    this.name = 'BackupNotFoundError'
  }
}
