import { afterEach, describe, expect, it } from 'vitest'
import { newBackupId } from '../../src/ops/backup-id.js'
import type { BackupManifest } from '../../src/ops/backup-manifest.js'
import { requireFreshVerifiedBackup } from '../../src/ops/commands/migrate.js'
import { parseDatabaseUrl } from '../../src/ops/database-target.js'
import { FileBackupStore } from '../../src/ops/file-backup-store.js'
import { tempDir } from './ops-harness.js'

const NOW = new Date('2026-06-01T12:00:00Z')
const target = parseDatabaseUrl('postgresql://app:secret@db.internal:5432/app')

function manifest(createdAt: Date, options: { database?: string; verified?: boolean } = {}): BackupManifest {
  const id = newBackupId(createdAt)
  return {
    formatVersion: 1,
    id,
    database: { name: options.database ?? 'app', host: 'db.internal', port: 5432 },
    dumpObject: `${id}.dump`,
    format: 'pg_dump-custom',
    sizeBytes: 1,
    sha256: '0'.repeat(64),
    rowCounts: {},
    migrations: { tablePresent: true, applied: [] },
    pgVersion: { server: '15.18', pgDump: '15.18' },
    createdAt: createdAt.toISOString(),
    completedAt: createdAt.toISOString(),
    durationMs: 0,
    verifiedAt: options.verified === false ? null : createdAt.toISOString(),
    verification: null,
  }
}

const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000)

describe('the backup gate of migrate', () => {
  let dir: ReturnType<typeof tempDir> | undefined
  afterEach(() => dir?.remove())

  async function storeWith(...manifests: BackupManifest[]) {
    dir = tempDir('wa-ops-gate-')
    const store = new FileBackupStore(dir.dir)
    for (const m of manifests) await store.writeManifest(m)
    return store
  }

  it('takes the newest verified backup of the same database within the limit', async () => {
    const good = manifest(minutesAgo(10))
    const store = await storeWith(
      manifest(minutesAgo(20)),
      good,
      manifest(minutesAgo(5), { database: 'other' }),
    )
    expect((await requireFreshVerifiedBackup(store, target, 30, NOW)).id).toBe(good.id)
  })

  it('ignores backups of another database', async () => {
    const store = await storeWith(manifest(minutesAgo(1), { database: 'other' }))
    await expect(requireFreshVerifiedBackup(store, target, 30, NOW)).rejects.toThrow(
      'refusing to migrate: no backup of db.internal:5432/app',
    )
  })

  it('names the newest backup when none is verified', async () => {
    const newest = manifest(minutesAgo(1), { verified: false })
    const store = await storeWith(manifest(minutesAgo(2), { verified: false }), newest)
    await expect(requireFreshVerifiedBackup(store, target, 30, NOW)).rejects.toThrow(
      `backup ${newest.id} is not verified; run verify-backup --backup ${newest.id}`,
    )
  })

  it('refuses a verified backup older than the limit even when a newer unverified one exists', async () => {
    const old = manifest(minutesAgo(31))
    const store = await storeWith(old, manifest(minutesAgo(1), { verified: false }))
    await expect(requireFreshVerifiedBackup(store, target, 30, NOW)).rejects.toThrow(
      `the newest verified backup ${old.id} is 31.0 minutes old (limit 30)`,
    )
  })
})
