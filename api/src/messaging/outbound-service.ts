import type { Queue } from 'bullmq'
import type { PrismaClient } from '../db/prisma.js'
import { Prisma } from '../generated/prisma/client.js'
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from '../http/errors.js'
import { outboundJobOptions } from './outbound-queue.js'
import { messageContent, recipientDigits, requestHash, type SendMessageBody } from './outbound-request.js'

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

  const phone = await prisma.phoneNumber.findFirst({
    where: { organizationId, phoneNumberId: body.phoneNumberId, deletedAt: null },
    select: { id: true, wabaId: true, status: true },
  })
  if (!phone) throw new NotFoundError('phone number')
  if (phone.status !== 'ACTIVE')
    throw new ConflictError('PHONE_NUMBER_UNAVAILABLE', `phone number is ${phone.status}: sends are refused`)

  const waId = recipientDigits(body.to)
  const isTemplate = body.type === 'template'
  const conversation = await prisma.conversation.findFirst({
    where: { phoneNumberId: phone.id, contact: { organizationId, waId } },
    select: { id: true, lastInboundAt: true, contact: { select: { id: true, optedOutAt: true } } },
  })
  if (conversation?.contact.optedOutAt)
    throw new ConflictError('CONTACT_OPTED_OUT', 'the contact has opted out')
  if (!isTemplate) {
    const last = conversation?.lastInboundAt
    // Only the user's own messages open the window; 24:00:00 after the last one is already outside.
    if (!last || now.getTime() - last.getTime() >= SERVICE_WINDOW_MS)
      throw new UnprocessableError(
        'OUTSIDE_SERVICE_WINDOW',
        'free-form messages need a message from the user in the last 24 hours: send a template',
        { lastInboundAt: last?.toISOString() ?? null },
      )
  }
  if (body.type === 'template') {
    const template = await prisma.template.findFirst({
      where: {
        organizationId,
        wabaId: phone.wabaId,
        name: body.template.name,
        language: body.template.language.code,
      },
      select: { status: true },
    })
    if (template?.status !== 'APPROVED')
      throw new UnprocessableError(
        'TEMPLATE_NOT_APPROVED',
        `template ${body.template.name} (${body.template.language.code}) is ${template ? template.status : 'unknown'} for this number's WABA`,
      )
  }

  const conversationId = conversation?.id ?? (await openConversation(prisma, organizationId, phone.id, waId))
  let message: { id: string; status: string }
  try {
    // One statement, no transaction: a burst of sends must not queue for pool connections to BEGIN.
    const created = await prisma.message.create({
      data: {
        organizationId,
        conversationId,
        phoneNumberId: phone.id,
        direction: 'OUTBOUND',
        type: body.type,
        content: content as Prisma.InputJsonValue,
        ...(body.type === 'template'
          ? { templateName: body.template.name, templateLanguage: body.template.language.code }
          : {}),
        ...(idempotencyKey ? { idempotencyKey, requestHash: hash! } : {}),
        status: 'QUEUED',
      },
      select: { id: true, status: true },
    })
    message = created
  } catch (error) {
    // Two requests with one Idempotency-Key raced: the loser answers with the winner's message.
    if (idempotencyKey && isUniqueViolation(error)) {
      const earlier = await replayOf(deps, organizationId, idempotencyKey, hash!)
      if (earlier) return earlier
    }
    throw error
  }
  await deps.outboundQueue.add(
    'send',
    { messageId: message.id },
    { ...outboundJobOptions, jobId: message.id },
  )
  // Only orders the conversation list: at most once a second per conversation, so a burst of
  // sends to one user does not queue on that row's lock; never moves it backwards.
  await prisma.conversation.updateMany({
    where: { id: conversationId, lastMessageAt: { lt: new Date(now.getTime() - 1_000) } },
    data: { lastMessageAt: now },
  })
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
): Promise<string> {
  // INSERT … ON CONFLICT DO NOTHING, then read: concurrent first sends to one user (several API
  // processes) must not fail on the unique keys that an upsert's select-then-insert would race on.
  await prisma.contact.createMany({ data: [{ organizationId, waId }], skipDuplicates: true })
  const contact = await prisma.contact.findUniqueOrThrow({
    where: { organizationId_waId: { organizationId, waId } },
    select: { id: true, optedOutAt: true },
  })
  if (contact.optedOutAt) throw new ConflictError('CONTACT_OPTED_OUT', 'the contact has opted out')
  await prisma.conversation.createMany({
    data: [{ organizationId, phoneNumberId: phoneNumberDbId, contactId: contact.id }],
    skipDuplicates: true,
  })
  const conversation = await prisma.conversation.findUniqueOrThrow({
    where: { phoneNumberId_contactId: { phoneNumberId: phoneNumberDbId, contactId: contact.id } },
    select: { id: true },
  })
  return conversation.id
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002'
}
