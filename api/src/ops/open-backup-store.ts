import { isAbsolute } from 'node:path'
import { fileURLToPath } from 'node:url'
import { S3Client } from '@aws-sdk/client-s3'
import type { BackupStore } from './backup-store.js'
import { FileBackupStore } from './file-backup-store.js'
import { S3BackupStore } from './s3-backup-store.js'

export interface BackupStoreSettings {
  /** `file:///abs/dir` or `s3://bucket/prefix`. */
  url: string
  kmsKeyId?: string
  region?: string
  /** S3-compatible endpoint (path-style addressing), e.g. for a local S3 server. */
  s3Endpoint?: string
}

/** The store named by BACKUP_STORE. */
export function openBackupStore(settings: BackupStoreSettings): BackupStore {
  let url: URL
  try {
    url = new URL(settings.url)
  } catch {
    throw new Error(`BACKUP_STORE must be file:///absolute/dir or s3://bucket/prefix (got "${settings.url}")`)
  }
  if (url.protocol === 'file:') {
    const dir = fileURLToPath(url)
    if (!isAbsolute(dir)) throw new Error('BACKUP_STORE file:// URL must name an absolute directory')
    return new FileBackupStore(dir)
  }
  if (url.protocol === 's3:') {
    if (!url.hostname) throw new Error('BACKUP_STORE s3:// URL must name a bucket')
    const client = new S3Client({
      region: settings.region,
      ...(settings.s3Endpoint ? { endpoint: settings.s3Endpoint, forcePathStyle: true } : {}),
    })
    return new S3BackupStore({
      client,
      bucket: url.hostname,
      prefix: decodeURIComponent(url.pathname),
      kmsKeyId: settings.kmsKeyId,
    })
  }
  throw new Error(`BACKUP_STORE scheme ${url.protocol} is not supported: use file:// or s3://`)
}
