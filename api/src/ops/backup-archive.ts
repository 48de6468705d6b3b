import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { BackupManifest } from './backup-manifest.js'
import type { BackupStore } from './backup-store.js'
import { ChecksumStream } from './checksum-stream.js'
import { OpsError } from './ops-errors.js'

/** A dump fetched from the store into a local file whose checksum matched the manifest. */
export interface FetchedArchive {
  file: string
  remove(): Promise<void>
}

/**
 * Downloads the dump of a backup and checks size and sha256 against its manifest before anything
 * is restored from it: a corrupted or tampered dump never reaches a database.
 */
export async function fetchVerifiedArchive(
  store: BackupStore,
  manifest: BackupManifest,
  workDir: string,
): Promise<FetchedArchive> {
  const dir = await mkdtemp(join(workDir, 'wa-ops-'))
  const remove = () => rm(dir, { recursive: true, force: true })
  try {
    const file = join(dir, `${manifest.id}.dump`)
    const checksum = new ChecksumStream()
    await pipeline(await store.getDump(manifest.id), checksum, createWriteStream(file))
    const sha256 = checksum.digest()
    if (sha256 !== manifest.sha256 || checksum.bytes !== manifest.sizeBytes) {
      throw new OpsError(
        `backup ${manifest.id} is corrupted: sha256 ${sha256} (${checksum.bytes} bytes) does not match the manifest's ${manifest.sha256} (${manifest.sizeBytes} bytes)`,
        { checksumOk: false },
      )
    }
    return { file, remove }
  } catch (error) {
    await remove()
    throw error
  }
}

/** `latest` or an id -> the id of a complete backup in the store. */
export async function resolveBackupId(store: BackupStore, ref: string | undefined): Promise<string> {
  if (!ref) throw new OpsError('missing --backup <id|latest>')
  if (ref !== 'latest') return ref
  const ids = await store.list()
  const latest = ids.at(-1)
  if (!latest) throw new OpsError(`no backup in ${store.location}`)
  return latest
}

/** Tables whose row counts differ between the manifest and a restored database. */
export function compareRowCounts(
  expected: Record<string, number>,
  actual: Record<string, number>,
): { table: string; expected: number | null; actual: number | null }[] {
  const tables = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort()
  return tables
    .filter((t) => expected[t] !== actual[t])
    .map((t) => ({ table: t, expected: expected[t] ?? null, actual: actual[t] ?? null }))
}
