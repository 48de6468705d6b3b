import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startPostgres } from '@whatsapp-saas/local-services'
import pg from 'pg'
import { backupDatabase } from '../api/src/ops/commands/backup.js'
import { restoreBackup } from '../api/src/ops/commands/restore.js'
import { verifyBackup } from '../api/src/ops/commands/verify-backup.js'
import { parseDatabaseUrl } from '../api/src/ops/database-target.js'
import { FileBackupStore } from '../api/src/ops/file-backup-store.js'
import { DEFAULT_MIGRATIONS_DIR, readMigrationsDir } from '../api/src/ops/prisma-migrations.js'
import type { BenchResult } from './types.js'

// Evidence for the 15-minute RTO: how long backup, verify-backup and restore take on a database
// of the real schema holding 500,000 messages (BENCH_OPS_MESSAGES overrides the count).
const MESSAGES = Number(process.env.BENCH_OPS_MESSAGES ?? 500_000)
const CONVERSATIONS = 5_000

async function exec(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/** One organization, one phone number, CONVERSATIONS contacts and conversations, MESSAGES messages. */
const SEED_SQL = `
  INSERT INTO "Organization" (id, name, slug, "updatedAt") VALUES ('org_bench', 'Bench', 'bench', now());
  INSERT INTO "PhoneNumber" (id, "organizationId", "wabaId", "phoneNumberId", "displayPhoneNumber", "accessTokenEnc", "updatedAt")
    VALUES ('pn_bench', 'org_bench', 'waba_bench', '100000000000001', '+1 555 0100', 'enc:bench', now());
  INSERT INTO "Contact" (id, "organizationId", "waId", "profileName", "updatedAt")
    SELECT 'ct_' || g, 'org_bench', (15550000000 + g)::text, 'Contact ' || g, now() FROM generate_series(1, ${CONVERSATIONS}) g;
  INSERT INTO "Conversation" (id, "organizationId", "phoneNumberId", "contactId")
    SELECT 'cv_' || g, 'org_bench', 'pn_bench', 'ct_' || g FROM generate_series(1, ${CONVERSATIONS}) g;
  INSERT INTO "Message" (id, "organizationId", "conversationId", "phoneNumberId", direction, type, content, wamid,
                         status, "sentAt", "deliveredAt", "createdAt", "updatedAt")
    SELECT 'msg_' || g, 'org_bench', 'cv_' || (1 + g % ${CONVERSATIONS}), 'pn_bench',
           CASE WHEN g % 3 = 0 THEN 'INBOUND'::"Direction" ELSE 'OUTBOUND'::"Direction" END, 'text',
           jsonb_build_object('body', 'Order ' || g || ' has shipped and will arrive on Tuesday'),
           'wamid.HBgL' || md5(g::text), 'DELIVERED',
           now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval,
           now() - (g || ' seconds')::interval, now()
    FROM generate_series(1, ${MESSAGES}) g;
  ANALYZE;`

const silentLog = { info: (line: string) => process.stderr.write(`  ${line}\n`) }

function result(name: string, rows: number, sizeBytes: number, durationMs: number): BenchResult {
  return {
    name,
    reqPerSec: Math.round((rows / durationMs) * 1000),
    p50Ms: durationMs,
    p99Ms: durationMs,
    errors: 0,
    baseline: null,
    rows,
    sizeBytes,
    durationMs,
  }
}

export default async function opsBenchmark(): Promise<BenchResult[]> {
  const server = await startPostgres()
  const storeDir = mkdtempSync(join(tmpdir(), 'wa-ops-bench-'))
  try {
    await exec(server.url(), 'CREATE DATABASE bench_source')
    await exec(server.url(), 'CREATE DATABASE bench_restore')
    const source = parseDatabaseUrl(server.url('bench_source'))
    for (const migration of await readMigrationsDir(DEFAULT_MIGRATIONS_DIR))
      await exec(source.url, migration.sql)
    await exec(source.url, SEED_SQL)
    const store = new FileBackupStore(storeDir)
    const jobs = 2

    const t0 = performance.now()
    const manifest = await backupDatabase({ target: source, store, log: silentLog })
    const backupMs = Math.round(performance.now() - t0)
    const rows = Object.values(manifest.rowCounts).reduce((a, b) => a + b, 0)

    const t1 = performance.now()
    await verifyBackup({
      target: source,
      store,
      log: silentLog,
      backup: manifest.id,
      workDir: tmpdir(),
      jobs,
    })
    const verifyMs = Math.round(performance.now() - t1)

    const t2 = performance.now()
    const target = parseDatabaseUrl(server.url('bench_restore'))
    await restoreBackup({
      target,
      store,
      log: silentLog,
      backup: manifest.id,
      force: false,
      workDir: tmpdir(),
      jobs,
    })
    const restoreMs = Math.round(performance.now() - t2)

    return [
      result(`ops backup (${MESSAGES} messages)`, rows, manifest.sizeBytes, backupMs),
      result(`ops verify-backup (${MESSAGES} messages)`, rows, manifest.sizeBytes, verifyMs),
      result(`ops restore (${MESSAGES} messages)`, rows, manifest.sizeBytes, restoreMs),
    ]
  } finally {
    await server.stop()
    rmSync(storeDir, { recursive: true, force: true })
  }
}
