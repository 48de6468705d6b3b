import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import { afterEach, describe, expect, it } from 'vitest'
import { newBackupId } from '../../src/ops/backup-id.js'
import type { BackupManifest } from '../../src/ops/backup-manifest.js'
import { BackupNotFoundError } from '../../src/ops/backup-store.js'
import { FileBackupStore } from '../../src/ops/file-backup-store.js'
import { openBackupStore } from '../../src/ops/open-backup-store.js'
import { S3BackupStore } from '../../src/ops/s3-backup-store.js'
import { tempDir } from './ops-harness.js'

function manifest(id: string): BackupManifest {
  return {
    formatVersion: 1,
    id,
    database: { name: 'app', host: '127.0.0.1', port: 5432 },
    dumpObject: `${id}.dump`,
    format: 'pg_dump-custom',
    sizeBytes: 3,
    sha256: 'x'.repeat(64),
    rowCounts: {},
    migrations: { tablePresent: false, applied: [] },
    pgVersion: { server: '15.18', pgDump: '15.18' },
    createdAt: '2026-01-01T00:00:00.000Z',
    completedAt: '2026-01-01T00:00:01.000Z',
    durationMs: 1000,
    verifiedAt: null,
    verification: null,
  }
}

describe('file backup store', () => {
  let dir: ReturnType<typeof tempDir> | undefined
  afterEach(() => dir?.remove())

  it('lists only backups whose manifest is written, oldest first', async () => {
    dir = tempDir('wa-ops-files-')
    const store = new FileBackupStore(join(dir.dir, 'nested'))
    expect(await store.list()).toEqual([])
    const first = newBackupId(new Date('2026-01-01T00:00:00Z'))
    const second = newBackupId(new Date('2026-01-01T00:00:00.001Z'))
    const unfinished = newBackupId(new Date('2026-01-02T00:00:00Z'))
    for (const id of [second, first, unfinished]) await store.putDump(id, Readable.from([Buffer.from('abc')]))
    await store.writeManifest(manifest(second))
    await store.writeManifest(manifest(first))
    expect(await store.list()).toEqual([first, second])
    expect((await buffer(await store.getDump(first))).toString()).toBe('abc')
    expect(await store.readManifest(first)).toEqual(manifest(first))
  })

  it('leaves no partial object when the dump stream fails', async () => {
    dir = tempDir('wa-ops-files-')
    const store = new FileBackupStore(dir.dir)
    const id = newBackupId()
    const failing = new Readable({
      read() {
        this.destroy(new Error('pg_dump died'))
      },
    })
    await expect(store.putDump(id, failing)).rejects.toThrow('pg_dump died')
    expect(readdirSync(dir.dir)).toEqual([])
    await expect(store.getDump(id)).rejects.toBeInstanceOf(BackupNotFoundError)
    expect(existsSync(join(dir.dir, `${id}.dump`))).toBe(false)
  })

  it('is chosen by BACKUP_STORE, which must be file:///abs or s3://bucket', () => {
    expect(openBackupStore({ url: 'file:///var/backups/wa' })).toBeInstanceOf(FileBackupStore)
    const s3 = openBackupStore({ url: 's3://acme-backups/staging/db', region: 'eu-west-1' })
    expect(s3).toBeInstanceOf(S3BackupStore)
    expect(s3.location).toBe('s3://acme-backups/staging/db')
    expect(() => openBackupStore({ url: '/var/backups' })).toThrow(/BACKUP_STORE must be/)
    expect(() => openBackupStore({ url: 'ftp://host/dir' })).toThrow(/scheme ftp: is not supported/)
  })
})
