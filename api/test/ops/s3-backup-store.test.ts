import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import { S3Client } from '@aws-sdk/client-s3'
import { freePort } from '@whatsapp-saas/local-services'
import S3rver from 's3rver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newBackupId } from '../../src/ops/backup-id.js'
import type { BackupManifest } from '../../src/ops/backup-manifest.js'
import { BackupNotFoundError } from '../../src/ops/backup-store.js'
import { S3BackupStore } from '../../src/ops/s3-backup-store.js'
import {
  createTinySchema,
  type OpsTestDatabase,
  runCli,
  startOpsTestDatabase,
  tempDir,
} from './ops-harness.js'

const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }
const KMS_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/test-key'

function manifestFor(id: string, body: Buffer): BackupManifest {
  return {
    formatVersion: 1,
    id,
    database: { name: 'app', host: 'db.internal', port: 5432 },
    dumpObject: `${id}.dump`,
    format: 'pg_dump-custom',
    sizeBytes: body.length,
    sha256: createHash('sha256').update(body).digest('hex'),
    rowCounts: { 'public.message': 1 },
    migrations: { tablePresent: false, applied: [] },
    pgVersion: { server: '15.18', pgDump: '15.18' },
    createdAt: new Date().toISOString(),
    completedAt: new Date().toISOString(),
    durationMs: 1,
    verifiedAt: null,
    verification: null,
  }
}

describe('S3 backup store on s3rver', () => {
  let server: S3rver
  let files: ReturnType<typeof tempDir>
  let endpoint: string
  let client: S3Client
  // What the SDK sent, to check the encryption headers of every write.
  const sent: {
    method: string
    path: string
    query: Record<string, unknown>
    headers: Record<string, string>
  }[] = []

  beforeAll(async () => {
    files = tempDir('wa-s3rver-')
    const port = await freePort()
    server = new S3rver({
      address: '127.0.0.1',
      port,
      silent: true,
      directory: files.dir,
      configureBuckets: [{ name: 'backups' }],
    })
    await server.run()
    endpoint = `http://127.0.0.1:${port}`
    client = new S3Client({ endpoint, forcePathStyle: true, region: 'eu-west-1', credentials: CREDENTIALS })
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as {
          method: string
          path: string
          query: Record<string, unknown>
          headers: Record<string, string>
        }
        sent.push({
          method: request.method,
          path: request.path,
          query: { ...request.query },
          headers: { ...request.headers },
        })
        return next(args)
      },
      { step: 'finalizeRequest', name: 'recordRequests' },
    )
  })

  afterAll(async () => {
    client?.destroy()
    await server?.close()
    files?.remove()
  })

  it('round-trips a multipart dump and its manifest with SSE-KMS on every write', async () => {
    const store = new S3BackupStore({ client, bucket: 'backups', prefix: 'staging/db', kmsKeyId: KMS_KEY })
    expect(store.location).toBe('s3://backups/staging/db')
    expect(await store.list()).toEqual([])

    // 12 MiB: more than two 5 MiB parts, so lib-storage uses a multipart upload.
    const body = randomBytes(12 * 1024 * 1024)
    const older = newBackupId(new Date('2026-01-01T00:00:00Z'))
    const newer = newBackupId(new Date('2026-01-02T00:00:00Z'))
    await store.putDump(newer, Readable.from([body.subarray(0, 7_000_000), body.subarray(7_000_000)]))
    const newerManifest = manifestFor(newer, body)
    await store.writeManifest(newerManifest)
    await store.putDump(older, Readable.from([Buffer.from('small')]))
    await store.writeManifest(manifestFor(older, Buffer.from('small')))

    expect(await store.list()).toEqual([older, newer])
    expect(await store.readManifest(newer)).toEqual(newerManifest)
    const fetched = await buffer(await store.getDump(newer))
    expect(fetched.equals(body)).toBe(true)

    // Object writes (PutObject, CreateMultipartUpload) carry SSE-KMS; parts inherit it from the upload.
    const parts = sent.filter((r) => r.method === 'PUT' && 'partNumber' in r.query)
    const createUploads = sent.filter((r) => r.method === 'POST' && 'uploads' in r.query)
    const puts = sent.filter((r) => r.method === 'PUT' && !('partNumber' in r.query))
    expect(parts.length).toBeGreaterThanOrEqual(3)
    expect(createUploads).toHaveLength(1)
    expect(puts.length).toBeGreaterThanOrEqual(3)
    for (const write of [...createUploads, ...puts]) {
      expect(write.headers['x-amz-server-side-encryption']).toBe('aws:kms')
      expect(write.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe(KMS_KEY)
    }
  })

  it('uploads dumps as STANDARD_IA (what the bucket lifecycle expects) and manifests as STANDARD', async () => {
    const store = new S3BackupStore({ client, bucket: 'backups', prefix: 'classes', kmsKeyId: KMS_KEY })
    const id = newBackupId(new Date('2026-02-01T00:00:00Z'))
    const from = sent.length
    await store.putDump(id, Readable.from([Buffer.from('dump bytes')]))
    await store.writeManifest(manifestFor(id, Buffer.from('dump bytes')))
    const writes = sent
      .slice(from)
      .filter((r) => r.method === 'PUT' || (r.method === 'POST' && 'uploads' in r.query))
    const dumpWrites = writes.filter((r) => r.path.endsWith(`${id}.dump`) && !('partNumber' in r.query))
    const manifestWrites = writes.filter((r) => r.path.endsWith(`${id}.manifest.json`))
    expect(dumpWrites).toHaveLength(1)
    expect(dumpWrites[0]!.headers['x-amz-storage-class']).toBe('STANDARD_IA')
    expect(manifestWrites).toHaveLength(1)
    expect(manifestWrites[0]!.headers['x-amz-storage-class']).toBeUndefined()
    expect((await buffer(await store.getDump(id))).toString()).toBe('dump bytes')
  })

  it('reports a missing backup as not found, and ignores objects outside its prefix', async () => {
    const store = new S3BackupStore({ client, bucket: 'backups', prefix: 'production' })
    await expect(store.readManifest('20000101T000000000Z-000000')).rejects.toBeInstanceOf(BackupNotFoundError)
    await expect(store.getDump('20000101T000000000Z-000000')).rejects.toThrow(
      'backup 20000101T000000000Z-000000 not found in s3://backups/production',
    )
    expect(await store.list()).toEqual([])
  })

  describe('through the ops commands', () => {
    let db: OpsTestDatabase
    beforeAll(async () => {
      db = await startOpsTestDatabase()
    })
    afterAll(async () => {
      await db?.stop()
    })

    it('backs up to, verifies from and restores from BACKUP_STORE=s3://', async () => {
      const source = await db.createDatabase()
      await createTinySchema(db, source, 500)
      // The SDK's default credential chain reads the process environment.
      process.env.AWS_ACCESS_KEY_ID = CREDENTIALS.accessKeyId
      process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.secretAccessKey
      const env = {
        DATABASE_URL: source,
        BACKUP_STORE: 's3://backups/cli',
        BACKUP_S3_ENDPOINT: endpoint,
        BACKUP_KMS_KEY_ID: KMS_KEY,
        AWS_REGION: 'eu-west-1',
      }
      const backup = await runCli(['backup'], env)
      expect(backup.result.error ?? null).toBeNull()
      expect(backup.result).toMatchObject({ ok: true, store: 's3://backups/cli', rows: 503 })
      const verify = await runCli(['verify-backup', '--backup', 'latest'], env)
      expect(verify.result).toMatchObject({ ok: true, backupId: backup.result.backupId })

      const target = await db.createDatabase()
      const restore = await runCli(['restore', '--backup', backup.result.backupId as string], {
        ...env,
        DATABASE_URL: target,
      })
      expect(restore.exitCode).toBe(0)
      const [row] = await db.query<{ n: string }>(target, 'SELECT count(*) AS n FROM message')
      expect(Number(row?.n)).toBe(500)
    })
  })
})
