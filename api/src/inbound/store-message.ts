import { randomUUID } from 'node:crypto'
import type { Db, Prisma } from '../db/prisma.js'
import { publishEvent } from '../events/publish.js'
import type { MetaContact, MetaInboundMessage } from './meta-payload.js'

export interface InboundPhone {
  /** PhoneNumber.id */
  id: string
  organizationId: string
  /** Meta's phone_number_id */
  phoneNumberId: string
}

export interface InboundMessageInput {
  phone: InboundPhone
  message: MetaInboundMessage & { id: string }
  contact: MetaContact | undefined
  at: Date
  optOutKeywords: readonly string[]
}

/**
 * `collision`: the wamid is already stored for a message of the other direction or of another phone
 * number. Meta's wamids never collide, so it means a broken upstream (e.g. an id source that repeats
 * itself); the message is not stored, like a duplicate, and the caller warns.
 */
export type InboundOutcome = 'stored' | 'duplicate' | 'collision' | 'no-sender'

// Contact and conversation upserts are single INSERT ... ON CONFLICT statements: unlike a
// find-then-create they stay correct when two workers handle the same sender at the same moment.
async function upsertContact(
  tx: Db,
  organizationId: string,
  identity: { waId: string | null; bsuid: string | null; profileName: string | null },
): Promise<string> {
  const { waId, bsuid, profileName } = identity
  const rows = waId
    ? await tx.$queryRaw<{ id: string }[]>`
        INSERT INTO "Contact" (id, "organizationId", "waId", bsuid, "profileName", "updatedAt")
        VALUES (${randomUUID()}, ${organizationId}, ${waId}, ${bsuid}, ${profileName}, now())
        ON CONFLICT ("organizationId", "waId") DO UPDATE
          SET "profileName" = COALESCE(EXCLUDED."profileName", "Contact"."profileName"),
              bsuid = COALESCE("Contact".bsuid, EXCLUDED.bsuid),
              "updatedAt" = now()
        RETURNING id`
    : await tx.$queryRaw<{ id: string }[]>`
        INSERT INTO "Contact" (id, "organizationId", "waId", bsuid, "profileName", "updatedAt")
        VALUES (${randomUUID()}, ${organizationId}, NULL, ${bsuid}, ${profileName}, now())
        ON CONFLICT ("organizationId", bsuid) DO UPDATE
          SET "profileName" = COALESCE(EXCLUDED."profileName", "Contact"."profileName"),
              "updatedAt" = now()
        RETURNING id`
  return rows[0]!.id
}

async function ensureConversation(tx: Db, phone: InboundPhone, contactId: string): Promise<string> {
  const inserted = await tx.$queryRaw<{ id: string }[]>`
    INSERT INTO "Conversation" (id, "organizationId", "phoneNumberId", "contactId")
    VALUES (${randomUUID()}, ${phone.organizationId}, ${phone.id}, ${contactId})
    ON CONFLICT ("phoneNumberId", "contactId") DO NOTHING
    RETURNING id`
  if (inserted[0]) return inserted[0].id
  const existing = await tx.conversation.findUniqueOrThrow({
    where: { phoneNumberId_contactId: { phoneNumberId: phone.id, contactId } },
    select: { id: true },
  })
  return existing.id
}

function isOptOut(message: MetaInboundMessage, keywords: readonly string[]): boolean {
  const body = message.type === 'text' ? message.text?.body : undefined
  if (typeof body !== 'string') return false
  const word = body.trim().toUpperCase()
  return keywords.some((keyword) => keyword.toUpperCase() === word)
}

/** The message's own content object (e.g. { text: { body } }), as Meta sent it. */
function contentOf(message: MetaInboundMessage): Prisma.InputJsonObject {
  const type = message.type ?? 'unknown'
  const content: Record<string, unknown> = { type }
  if (type in message) content[type] = message[type]
  if ('context' in message) content.context = message.context
  return content as Prisma.InputJsonObject
}

/**
 * Stores one inbound message exactly once per wamid (INSERT ... ON CONFLICT DO NOTHING), upserting
 * its contact and conversation; only the call that inserted the row moves lastInboundAt (never
 * backwards), applies an opt-out keyword and emits message.received.
 */
export async function storeInboundMessage(tx: Db, input: InboundMessageInput): Promise<InboundOutcome> {
  const { phone, message, contact, at } = input
  const waId = message.from ?? contact?.wa_id ?? null
  const bsuid = message.from_user_id ?? contact?.user_id ?? null
  if (!waId && !bsuid) return 'no-sender'

  const contactId = await upsertContact(tx, phone.organizationId, {
    waId,
    bsuid,
    profileName: contact?.profile?.name ?? null,
  })
  const conversationId = await ensureConversation(tx, phone, contactId)
  const type = message.type ?? 'unknown'
  const content = contentOf(message)
  const inserted = await tx.$queryRaw<{ id: string }[]>`
    INSERT INTO "Message" (id, "organizationId", "conversationId", "phoneNumberId", direction, type, content,
                           wamid, status, "metaTimestamp", "updatedAt")
    VALUES (${randomUUID()}, ${phone.organizationId}, ${conversationId}, ${phone.id}, 'INBOUND', ${type},
            ${JSON.stringify(content)}::jsonb, ${message.id}, 'RECEIVED', ${at}, now())
    ON CONFLICT (wamid) DO NOTHING
    RETURNING id`
  const row = inserted[0]
  if (!row) {
    const stored = await tx.$queryRaw<{ direction: string; phoneNumberId: string }[]>`
      SELECT direction, "phoneNumberId" FROM "Message" WHERE wamid = ${message.id}`
    const same = stored[0]?.direction === 'INBOUND' && stored[0]?.phoneNumberId === phone.id
    return same || stored.length === 0 ? 'duplicate' : 'collision'
  }

  await tx.$executeRaw`
    UPDATE "Conversation"
    SET "lastInboundAt" = GREATEST("lastInboundAt", ${at}), "lastMessageAt" = GREATEST("lastMessageAt", ${at})
    WHERE id = ${conversationId}`
  const optedOut = isOptOut(message, input.optOutKeywords)
  if (optedOut)
    await tx.contact.updateMany({
      where: { id: contactId, optedOutAt: null },
      data: { optedOutAt: at, optOutSource: 'keyword' },
    })

  await publishEvent(tx, {
    organizationId: phone.organizationId,
    type: 'message.received',
    data: {
      messageId: row.id,
      wamid: message.id,
      conversationId,
      contactId,
      phoneNumberId: phone.phoneNumberId,
      from: waId,
      fromUserId: bsuid,
      type,
      content,
      timestamp: at.toISOString(),
      ...(optedOut ? { optedOut: true } : {}),
    },
  })
  return 'stored'
}
