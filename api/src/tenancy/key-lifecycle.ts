import type { Db, PrismaClient } from '../db/prisma.js'
import { type IssuedApiKey, issueApiKey } from './api-keys.js'
import { type AuditEntry, recordAudit } from './audit-log.js'
import type { ApiKeyScope } from './scopes.js'

/**
 * Lineage of API keys. A key minted with another key is its child and never outlives it: its expiry is
 * capped at the parent's, and revoking a key revokes every descendant (cascade, rather than refusing
 * while children live: a leaked key must be killable in one call, with everything it handed out).
 * Rotation replaces a key by a successor in the same place of the tree, so both work until the old one
 * is revoked or expires, and the old key's children move to the successor instead of dying with it.
 */

/** The key was revoked or expired between authentication and this change. */
export class KeyNoLongerActive extends Error {}

interface KeyRow {
  id: string
  organizationId: string
  parentId: string | null
  scopes: string[]
  revokedAt: Date | null
  expiresAt: Date | null
}

const earliest = (a: Date | null, b: Date | null): Date | null => (a && b ? (a < b ? a : b) : (a ?? b))

/** Locks a key's row: a revocation of it waits for the change in progress, or the change sees it revoked. */
async function lockActiveKey(tx: Db, id: string, now: Date): Promise<KeyRow> {
  const [row] = await tx.$queryRaw<KeyRow[]>`
    SELECT id, "organizationId", "parentId", scopes, "revokedAt", "expiresAt"
    FROM "ApiKey" WHERE id = ${id} FOR UPDATE`
  if (!row || row.revokedAt || (row.expiresAt && row.expiresAt <= now)) throw new KeyNoLongerActive()
  return row
}

export interface MintedKey extends IssuedApiKey {
  /** True when the requested expiry was later than the parent's (or absent) and the parent's was used. */
  expiryCapped: boolean
}

/** Issues a child of `parentId` (the caller's key), its expiry capped at the parent's, and audits it. */
export async function mintChildKey(
  prisma: PrismaClient,
  parentId: string,
  input: { name: string; scopes: ApiKeyScope[]; expiresAt: Date | null },
  now = new Date(),
): Promise<MintedKey> {
  return prisma.$transaction(async (tx) => {
    const parent = await lockActiveKey(tx, parentId, now)
    const expiresAt = earliest(input.expiresAt, parent.expiresAt)
    const key = await issueApiKey(tx, {
      organizationId: parent.organizationId,
      name: input.name,
      scopes: input.scopes,
      expiresAt,
      parentId: parent.id,
    })
    const expiryCapped = expiresAt !== input.expiresAt
    await recordAudit(tx, {
      actor: `api_key:${parent.id}`,
      action: 'api_key.create',
      organizationId: parent.organizationId,
      targetId: key.id,
      details: {
        parentId: parent.id,
        scopes: key.scopes,
        expiresAt: key.expiresAt?.toISOString() ?? null,
        expiryCapped,
      },
    })
    return { ...key, expiryCapped }
  })
}

/**
 * Revokes a key and all its descendants; returns the ids revoked by this call (the key first when it was
 * still active). Each round is its own statement, so it sees children committed by mints that held a
 * row lock the previous round waited for; it stops when a round finds nothing left to revoke.
 */
export async function revokeKeyTree(
  prisma: PrismaClient,
  key: { id: string; organizationId: string },
  actor: AuditEntry['actor'],
  now = new Date(),
): Promise<string[]> {
  return prisma.$transaction(async (tx) => {
    const revoked = (
      await tx.$queryRaw<{ id: string }[]>`
        UPDATE "ApiKey" SET "revokedAt" = ${now}
        WHERE id = ${key.id} AND "revokedAt" IS NULL RETURNING id`
    ).map((row) => row.id)
    for (;;) {
      const round = await tx.$queryRaw<{ id: string }[]>`
        WITH RECURSIVE tree AS (
          SELECT id FROM "ApiKey" WHERE "parentId" = ${key.id} AND "organizationId" = ${key.organizationId}
          UNION
          SELECT k.id FROM "ApiKey" k JOIN tree ON k."parentId" = tree.id
          WHERE k."organizationId" = ${key.organizationId}
        )
        UPDATE "ApiKey" SET "revokedAt" = ${now}
        WHERE id IN (SELECT id FROM tree) AND "revokedAt" IS NULL RETURNING id`
      if (round.length === 0) break
      revoked.push(...round.map((row) => row.id))
    }
    await recordAudit(tx, {
      actor,
      action: 'api_key.revoke',
      organizationId: key.organizationId,
      targetId: key.id,
      details: { revoked },
    })
    return revoked
  })
}

/** Why a rotation was refused. */
export class RotationRefused extends Error {}

/**
 * Issues the successor of `keyId`: same scopes, parent and expiry, so it stands where the old key stood;
 * the old key's children are moved under it. The old key keeps working until revoked, or until
 * `retireOldAt` when given (never later than its own expiry). Allowed to the key itself and to its
 * ancestors, so rotating never lets a key create one that outlives it.
 */
export async function rotateKey(
  prisma: PrismaClient,
  callerKeyId: string,
  keyId: string,
  input: { name?: string; retireOldAt?: Date },
  now = new Date(),
): Promise<{ successor: IssuedApiKey; old: { id: string; expiresAt: Date | null } }> {
  return prisma.$transaction(async (tx) => {
    const old = await lockActiveKey(tx, keyId, now)
    // Walk up from the key: the caller must be on that path (the key itself or one of its ancestors).
    let allowed = old.id === callerKeyId
    for (let at = old.parentId, hops = 0; !allowed && at && hops < 64; hops += 1) {
      if (at === callerKeyId) allowed = true
      const [up] = await tx.$queryRaw<{ parentId: string | null }[]>`
        SELECT "parentId" FROM "ApiKey" WHERE id = ${at}`
      at = up?.parentId ?? null
    }
    if (!allowed) throw new RotationRefused('only the key itself or a key it descends from may rotate it')
    const [current] = await tx.$queryRaw<{ name: string }[]>`SELECT name FROM "ApiKey" WHERE id = ${old.id}`
    const successor = await issueApiKey(tx, {
      organizationId: old.organizationId,
      name: input.name ?? current?.name ?? 'rotated',
      scopes: old.scopes as ApiKeyScope[],
      expiresAt: old.expiresAt,
      parentId: old.parentId,
    })
    await tx.$executeRaw`UPDATE "ApiKey" SET "parentId" = ${successor.id} WHERE "parentId" = ${old.id}`
    const oldExpiresAt = input.retireOldAt ? earliest(input.retireOldAt, old.expiresAt) : old.expiresAt
    if (oldExpiresAt !== old.expiresAt)
      await tx.$executeRaw`UPDATE "ApiKey" SET "expiresAt" = ${oldExpiresAt} WHERE id = ${old.id}`
    await recordAudit(tx, {
      actor: `api_key:${callerKeyId}`,
      action: 'api_key.rotate',
      organizationId: old.organizationId,
      targetId: old.id,
      details: { successorId: successor.id, oldExpiresAt: oldExpiresAt?.toISOString() ?? null },
    })
    return { successor, old: { id: old.id, expiresAt: oldExpiresAt } }
  })
}
