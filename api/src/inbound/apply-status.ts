import type { Db, Prisma, PrismaClient } from '../db/prisma.js'
import { messageStatusEvent } from '../events/message-status.js'
import { publishEvent } from '../events/publish.js'
import type { MetaError } from './meta-payload.js'
import {
  isMetaStatusName,
  type MessageStatusState,
  type MetaStatusName,
  nextStatusState,
  type StoredStatus,
  statusOrder,
} from './status-transition.js'

/** Meta's error code for "user stopped marketing messages": the contact is opted out. */
const USER_OPTED_OUT = 131050

// Serialises, per wamid, "store a status / look for its message" against "store the wamid / look for
// pending statuses", so a status that arrives while the send response is being stored is never stranded.
async function lockWamid(tx: Db, wamid: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${wamid}, 42))`
}

interface LockedMessage extends MessageStatusState {
  id: string
  organizationId: string
  conversationId: string
  wamid: string
}

async function lockMessage(tx: Db, wamid: string): Promise<LockedMessage | undefined> {
  const rows = await tx.$queryRaw<LockedMessage[]>`
    SELECT id, "organizationId", "conversationId", wamid, status::text AS status,
           "sentAt", "deliveredAt", "readAt", "failedAt"
    FROM "Message" WHERE wamid = ${wamid} FOR UPDATE`
  return rows[0]
}

interface StatusRow {
  id: string
  status: string
  metaTimestamp: Date
  errorCode: number | null
  raw: Prisma.JsonValue
}

function firstError(raw: Prisma.JsonValue): MetaError | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined
  const errors = (raw as { errors?: unknown }).errors
  return Array.isArray(errors) && errors.length > 0 ? (errors[0] as MetaError) : undefined
}

/** Applies one stored status event to its (locked) message; emits message.status on a real change. */
async function applyToMessage(tx: Db, message: LockedMessage, event: StatusRow): Promise<boolean> {
  await tx.messageStatusEvent.update({ where: { id: event.id }, data: { appliedAt: new Date() } })
  if (!isMetaStatusName(event.status)) return false
  const next = nextStatusState(message, { status: event.status, at: event.metaTimestamp })
  if (!next) return false
  const error = event.status === 'failed' ? firstError(event.raw) : undefined
  await tx.message.update({
    where: { id: message.id },
    data: {
      status: next.status,
      sentAt: next.sentAt,
      deliveredAt: next.deliveredAt,
      readAt: next.readAt,
      failedAt: next.failedAt,
      ...(event.status === 'failed'
        ? {
            errorCode: event.errorCode,
            errorTitle: error?.title ?? error?.message ?? null,
            errorDetails: error?.error_data?.details ?? null,
          }
        : {}),
    },
  })
  if (event.status === 'failed' && event.errorCode === USER_OPTED_OUT) {
    const conversation = await tx.conversation.findUnique({ where: { id: message.conversationId } })
    if (conversation)
      await tx.contact.updateMany({
        where: { id: conversation.contactId, optedOutAt: null },
        data: { optedOutAt: event.metaTimestamp, optOutSource: 'meta_131050' },
      })
  }
  const previous = message.status
  Object.assign(message, next)
  await publishEvent(
    tx,
    messageStatusEvent({
      message,
      previous,
      status: next.status,
      at: event.metaTimestamp,
      ...(event.errorCode !== null ? { error: { code: event.errorCode, title: error?.title ?? null } } : {}),
    }),
  )
  return true
}

export interface IncomingStatus {
  wamid: string
  status: MetaStatusName | string
  at: Date
  errorCode: number | null
  raw: Prisma.InputJsonValue
}

export type StatusOutcome = 'applied' | 'unchanged' | 'duplicate' | 'pending'

/**
 * Records a status webhook once per (wamid, status) and applies it forward-only to its message. A
 * status whose message is not stored yet stays pending until applyPendingStatuses() sees the wamid.
 */
export async function recordStatus(tx: Db, incoming: IncomingStatus): Promise<StatusOutcome> {
  await lockWamid(tx, incoming.wamid)
  const inserted = await tx.messageStatusEvent.createManyAndReturn({
    data: [
      {
        wamid: incoming.wamid,
        status: incoming.status,
        metaTimestamp: incoming.at,
        errorCode: incoming.errorCode,
        raw: incoming.raw,
      },
    ],
    skipDuplicates: true,
    select: { id: true, status: true, metaTimestamp: true, errorCode: true, raw: true },
  })
  const event = inserted[0]
  if (!event) return 'duplicate'
  const message = await lockMessage(tx, incoming.wamid)
  if (!message) return 'pending'
  return (await applyToMessage(tx, message, event)) ? 'applied' : 'unchanged'
}

/**
 * Applies the statuses that arrived before their message's wamid was stored (in sent, delivered, read,
 * failed order). The outbound sender calls it right after committing a wamid. Returns how many changed
 * the message.
 */
export async function applyPendingStatuses(prisma: PrismaClient, wamid: string): Promise<number> {
  return prisma.$transaction(async (tx) => {
    await lockWamid(tx, wamid)
    const message = await lockMessage(tx, wamid)
    if (!message) return 0
    const pending = await tx.messageStatusEvent.findMany({
      where: { wamid, appliedAt: null },
      select: { id: true, status: true, metaTimestamp: true, errorCode: true, raw: true },
    })
    pending.sort(
      (a, b) => statusOrder(a.status) - statusOrder(b.status) || +a.metaTimestamp - +b.metaTimestamp,
    )
    let changed = 0
    for (const event of pending) if (await applyToMessage(tx, message, event)) changed += 1
    return changed
  })
}

export type { StoredStatus }
