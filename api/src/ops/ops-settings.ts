import { availableParallelism, tmpdir } from 'node:os'
import { databaseCaFile } from '../db/tls.js'

/** Everything the ops commands read from the environment, read and validated in one place. */
export interface OpsSettings {
  /** Secret. */
  databaseUrl?: string
  /** DATABASE_CA_FILE (src/db/tls.ts): absent, the RDS CA bundle verifies the server. */
  databaseCaFile?: string
  /** `file:///abs/dir` or `s3://bucket/prefix`. */
  backupStore?: string
  backupKmsKeyId?: string
  awsRegion?: string
  /** S3-compatible endpoint with path-style addressing (a local S3 server); AWS itself needs none. */
  backupS3Endpoint?: string
  migrateMaxBackupAgeMinutes: number
  /** Where a dump is downloaded before pg_restore reads it. */
  workDir: string
  /** pg_restore parallel workers. */
  restoreJobs: number
}

function positiveNumber(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number (got "${raw}")`)
  return value
}

export function readOpsSettings(env: NodeJS.ProcessEnv): OpsSettings {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    databaseCaFile: databaseCaFile(env),
    backupStore: env.BACKUP_STORE || undefined,
    backupKmsKeyId: env.BACKUP_KMS_KEY_ID || undefined,
    awsRegion: env.AWS_REGION || undefined,
    backupS3Endpoint: env.BACKUP_S3_ENDPOINT || undefined,
    migrateMaxBackupAgeMinutes: positiveNumber(
      'MIGRATE_MAX_BACKUP_AGE_MINUTES',
      env.MIGRATE_MAX_BACKUP_AGE_MINUTES,
      30,
    ),
    workDir: env.OPS_WORK_DIR || tmpdir(),
    restoreJobs: Math.floor(
      positiveNumber('OPS_RESTORE_JOBS', env.OPS_RESTORE_JOBS, Math.min(4, availableParallelism())),
    ),
  }
}
