import { randomBytes } from 'node:crypto'

// `20261125T010437123Z-3f9a1c`: UTC time first so that ids sort by creation time as plain
// strings (S3 lists keys in that order too); the random tail keeps two backups in one
// millisecond apart.
const BACKUP_ID = /^\d{8}T\d{9}Z-[0-9a-f]{6}$/

export function newBackupId(now: Date = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.(\d{3})Z$/, '$1Z')
  return `${stamp}-${randomBytes(3).toString('hex')}`
}

export function isBackupId(value: string): boolean {
  return BACKUP_ID.test(value)
}
