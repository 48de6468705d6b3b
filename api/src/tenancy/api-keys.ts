import { randomBytes } from 'node:crypto'
import { constantTimeEqual, sha256Hex } from '../crypto/digest.js'
import type { Db } from '../db/prisma.js'
import { API_KEY_SCOPES, type ApiKeyScope } from './scopes.js'

// Key format: wsk_<prefix>_<secret>. The prefix is public and indexed (lookup without scanning);
// only SHA-256 of the whole key is stored. A fast hash is enough: the secret has 256 bits of entropy,
// so there is nothing for a slow password hash to protect.
const KEY_PATTERN = /^wsk_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/

export interface IssuedApiKey {
  id: string
  name: string
  prefix: string
  scopes: string[]
  createdAt: Date
  expiresAt: Date | null
  /** Shown once: only its hash is kept. */
  key: string
}

function newPrefix(): string {
  // 12 characters of [a-z0-9] from random bytes (the modulo bias on 36 symbols is irrelevant for an id).
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  return Array.from(randomBytes(12), (byte) => alphabet[byte % alphabet.length]).join('')
}

export async function issueApiKey(
  db: Db,
  input: {
    organizationId: string
    name: string
    scopes?: ApiKeyScope[]
    expiresAt?: Date | null
    /** The key that mints this one (see key-lifecycle.ts); absent for keys the platform admin issues. */
    parentId?: string | null
  },
): Promise<IssuedApiKey> {
  const prefix = newPrefix()
  const key = `wsk_${prefix}_${randomBytes(32).toString('base64url')}`
  const row = await db.apiKey.create({
    data: {
      organizationId: input.organizationId,
      name: input.name,
      prefix,
      hashedKey: sha256Hex(key),
      scopes: input.scopes ?? [...API_KEY_SCOPES],
      expiresAt: input.expiresAt ?? null,
      parentId: input.parentId ?? null,
    },
  })
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    key,
  }
}

export interface VerifiedApiKey {
  id: string
  organizationId: string
  scopes: string[]
  lastUsedAt: Date | null
  expiresAt: Date | null
}

interface ApiKeyRow {
  id: string
  organizationId: string
  scopes: string[]
  hashedKey: string
  revokedAt: Date | null
  expiresAt: Date | null
  lastUsedAt: Date | null
}

/** The active key matching a plaintext key, or null (unknown, wrong secret, revoked or expired). */
export async function verifyApiKey(
  db: Db,
  plaintext: string,
  now = new Date(),
): Promise<VerifiedApiKey | null> {
  const match = KEY_PATTERN.exec(plaintext)
  if (!match) return null
  // Every authenticated request runs this: one raw statement (the ORM's per-query CPU is ~10× a raw one).
  const [row] = await db.$queryRaw<ApiKeyRow[]>`
    SELECT id, "organizationId", scopes, "hashedKey", "revokedAt", "expiresAt", "lastUsedAt"
    FROM "ApiKey" WHERE prefix = ${match[1]}`
  if (!row || !constantTimeEqual(row.hashedKey, sha256Hex(plaintext))) return null
  if (row.revokedAt || (row.expiresAt && row.expiresAt <= now)) return null
  return {
    id: row.id,
    organizationId: row.organizationId,
    scopes: row.scopes,
    lastUsedAt: row.lastUsedAt,
    expiresAt: row.expiresAt,
  }
}

const LAST_USED_RESOLUTION_MS = 60_000
const touchedAt = new Map<string, number>()

/**
 * Records use of a key at most once a minute: the conditional UPDATE touches no row (and writes no WAL)
 * when lastUsedAt is already recent, and the caller skips it altogether when its copy is recent.
 */
export async function touchApiKey(db: Db, key: VerifiedApiKey, now = new Date()): Promise<void> {
  const threshold = new Date(now.getTime() - LAST_USED_RESOLUTION_MS)
  if (key.lastUsedAt && key.lastUsedAt > threshold) return
  // Concurrent requests with one key all see the old lastUsedAt: only the first of them in this
  // process writes, instead of every one queueing on the row's lock.
  if ((touchedAt.get(key.id) ?? 0) > threshold.getTime()) return
  touchedAt.set(key.id, now.getTime())
  if (touchedAt.size > 10_000) touchedAt.clear()
  await db.$executeRaw`
    UPDATE "ApiKey" SET "lastUsedAt" = ${now}
    WHERE id = ${key.id} AND ("lastUsedAt" IS NULL OR "lastUsedAt" < ${threshold})`
}
