import { randomUUID } from 'node:crypto'
import type { Queue } from 'bullmq'
import type { PrismaClient } from '../db/prisma.js'
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from '../http/errors.js'
import { outboundJobOptions } from './outbound-queue.js'
import { messageContent, recipientDigits, requestHash, type SendMessageBody } from './outbound-request.js'

/** What one query learns about a send before accepting it (absent rows are null). */
interface SendContext {
  phoneId: string
  phoneStatus: string
  optedOutAt: Date | null
  conversationId: string | null
  lastInboundAt: Date | null
  templateStatus: string | null
}

/** Meta's customer service window: free-form messages only while the user wrote within 24 hours. */
export const SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000

export interface AcceptedSend {
  id: string
  status: string
  /** True when an earlier request with the same Idempotency-Key created the message. */
  replay: boolean
}

export interface OutboundDeps {
  prisma: PrismaClient
  outboundQueue: Queue
}

/**
 * Checks, persists (QUEUED) and only then enqueues one outbound message (WHATSAPP.md §3.5). The job
 * id is the message id, so a repeated enqueue of the same message is a no-op.
 */
export async function acceptOutboundMessage(
  deps: OutboundDeps,
  organizationId: string,
  body: SendMessageBody,
  idempotencyKey: string | undefined,
  now: Date = new Date(),
): Promise<AcceptedSend> {
  const { prisma } = deps
  const hash = idempotencyKey ? requestHash(body) : undefined
  if (idempotencyKey) {
    const earlier = await replayOf(deps, organizationId, idempotencyKey, hash!)
    if (earlier) return earlier
  }

  const content = messageContent(body)
  if (['image', 'document', 'audio', 'video'].includes(body.type) && !content.link && !content.id)
    throw new ValidationError(`body.${body.type} needs a link or an id`)

  const waId = recipientDigits(body.to)
  const isTemplate = body.type === 'template'
  // One round trip for every check (number, contact, conversation, template), in plain SQL: this path
  // runs for every send, and the ORM costs ~2.5 ms of CPU per query where a raw statement costs <1 ms.
  const [found] = await prisma.$queryRaw<SendContext[]>`
    SELECT p.id AS "phoneId", p.status::text AS "phoneStatus",
           ct."optedOutAt",
           cv.id AS "conversationId", cv."lastInboundAt",
           t.status::text AS "templateStatus"
    FROM "PhoneNumber" p
    LEFT JOIN "Contact" ct ON ct."organizationId" = p."organizationId" AND ct."waId" = ${waId}
    LEFT JOIN "Conversation" cv ON cv."phoneNumberId" = p.id AND cv."contactId" = ct.id
    LEFT JOIN "Template" t ON t."organizationId" = p."organizationId" AND t."wabaId" = p."wabaId"
      AND t.name = ${isTemplate ? body.template.name : null} AND t.language = ${isTemplate ? body.template.language.code : null}
    WHERE p."organizationId" = ${organizationId} AND p."phoneNumberId" = ${body.phoneNumberId}
      AND p."deletedAt" IS NULL
    LIMIT 1`
  if (!found) throw new NotFoundError('phone number')
  if (found.phoneStatus !== 'ACTIVE')
    throw new ConflictError(
      'PHONE_NUMBER_UNAVAILABLE',
      `phone number is ${found.phoneStatus}: sends are refused`,
    )
  if (found.optedOutAt) throw new ConflictError('CONTACT_OPTED_OUT', 'the contact has opted out')
  if (!isTemplate) {
    const last = found.lastInboundAt
    // Only the user's own messages open the window; 24:00:00 after the last one is already outside.
    if (!last || now.getTime() - last.getTime() >= SERVICE_WINDOW_MS)
      throw new UnprocessableError(
        'OUTSIDE_SERVICE_WINDOW',
        'free-form messages need a message from the user in the last 24 hours: send a template',
        { lastInboundAt: last?.toISOString() ?? null },
      )
  }
  if (body.type === 'template' && found.templateStatus !== 'APPROVED')
    throw new UnprocessableError(
      'TEMPLATE_NOT_APPROVED',
      `template ${body.template.name} (${body.template.language.code}) is ${found.templateStatus ?? 'unknown'} for this number's WABA`,
    )

  const conversationId =
    found.conversationId ?? (await openConversation(prisma, organizationId, found.phoneId, waId, now))
  // One statement, no transaction: a burst of sends must not queue for pool connections to BEGIN.
  // A lost Idempotency-Key race inserts nothing, and the request answers with the winner's message.
  const [message] = await prisma.$queryRaw<{ id: string }[]>`
    INSERT INTO "Message" (id, "organizationId", "conversationId", "phoneNumberId", direction, type,
      content, "templateName", "templateLanguage", "idempotencyKey", "requestHash", status, "createdAt", "updatedAt")
    VALUES (${randomUUID()}, ${organizationId}, ${conversationId}, ${found.phoneId}, 'OUTBOUND', ${body.type},
      ${JSON.stringify(content)}::jsonb, ${isTemplate ? body.template.name : null},
      ${isTemplate ? body.template.language.code : null}, ${idempotencyKey ?? null}, ${hash ?? null}, 'QUEUED', ${now}, ${now})
    ON CONFLICT ("organizationId", "idempotencyKey") DO NOTHING
    RETURNING id`
  if (!message) {
    const earlier = await replayOf(deps, organizationId, idempotencyKey!, hash!)
    if (earlier) return earlier
    throw new ConflictError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key is being used by another request')
  }
  await deps.outboundQueue.add(
    'send',
    { messageId: message.id },
    { ...outboundJobOptions, jobId: message.id },
  )
  // Only orders the conversation list: at most once a second per conversation, so a burst of
  // sends to one user does not queue on that row's lock; never moves it backwards.
  await prisma.$executeRaw`
    UPDATE "Conversation" SET "lastMessageAt" = ${now}
    WHERE id = ${conversationId} AND "lastMessageAt" < ${new Date(now.getTime() - 1_000)}`
  return { id: message.id, status: 'queued', replay: false }
}

async function replayOf(
  deps: OutboundDeps,
  organizationId: string,
  idempotencyKey: string,
  hash: string,
): Promise<AcceptedSend | undefined> {
  const earlier = await deps.prisma.message.findUnique({
    where: { organizationId_idempotencyKey: { organizationId, idempotencyKey } },
    select: { id: true, status: true, requestHash: true },
  })
  if (!earlier) return undefined
  if (earlier.requestHash !== hash)
    throw new ConflictError(
      'IDEMPOTENCY_KEY_REUSED',
      'this Idempotency-Key was used with a different request',
    )
  // The first request may have stored the message and then failed to enqueue (Redis outage): the
  // replay enqueues it again; the job id makes this a no-op when the job exists.
  if (earlier.status === 'QUEUED')
    await deps.outboundQueue.add(
      'send',
      { messageId: earlier.id },
      { ...outboundJobOptions, jobId: earlier.id },
    )
  return { id: earlier.id, status: earlier.status.toLowerCase(), replay: true }
}

/** Contact and conversation for a first business-initiated (template) message to this user. */
async function openConversation(
  prisma: PrismaClient,
  organizationId: string,
  phoneNumberDbId: string,
  waId: string,
  now: Date,
): Promise<string> {
  // INSERT … ON CONFLICT DO NOTHING, then read, each a statement of its own (no transaction): concurrent
  // first sends to one user (several API processes) meet on the unique keys instead of failing on them.
  await prisma.$executeRaw`
    INSERT INTO "Contact" (id, "organizationId", "waId", "createdAt", "updatedAt")
    VALUES (${randomUUID()}, ${organizationId}, ${waId}, ${now}, ${now})
    ON CONFLICT ("organizationId", "waId") DO NOTHING`
  const rows = await prisma.$queryRaw<{ id: string | null; optedOutAt: Date | null }[]>`
    WITH contact AS (
      SELECT id, "optedOutAt" FROM "Contact" WHERE "organizationId" = ${organizationId} AND "waId" = ${waId}
    ), inserted AS (
      INSERT INTO "Conversation" (id, "organizationId", "phoneNumberId", "contactId", "createdAt", "lastMessageAt")
      SELECT ${randomUUID()}, ${organizationId}, ${phoneNumberDbId}, contact.id, ${now}, ${now} FROM contact
      WHERE contact."optedOutAt" IS NULL
      ON CONFLICT ("phoneNumberId", "contactId") DO NOTHING
      RETURNING id
    )
    SELECT inserted.id, NULL::timestamp AS "optedOutAt" FROM inserted
    UNION ALL
    SELECT cv.id, contact."optedOutAt" FROM contact
    LEFT JOIN "Conversation" cv ON cv."phoneNumberId" = ${phoneNumberDbId} AND cv."contactId" = contact.id`
  if (rows.some((row) => row.optedOutAt))
    throw new ConflictError('CONTACT_OPTED_OUT', 'the contact has opted out')
  const id = rows.find((row) => row.id)?.id
  if (id) return id
  // A concurrent request created it after this statement's snapshot was taken: it is visible now.
  const existing = await prisma.conversation.findFirstOrThrow({
    where: { phoneNumberId: phoneNumberDbId, contact: { organizationId, waId } },
    select: { id: true },
  })
  return existing.id
}
