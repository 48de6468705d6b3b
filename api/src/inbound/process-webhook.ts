import type { Logger } from 'pino'
import type { Prisma, PrismaClient } from '../db/prisma.js'
import { publishEvent } from '../events/publish.js'
import { recordStatus, type StatusOutcome } from './apply-status.js'
import {
  type MetaEntry,
  type MetaMessagesValue,
  type MetaTemplateStatusValue,
  type MetaWebhookPayload,
  metaTime,
} from './meta-payload.js'
import { type InboundOutcome, type InboundPhone, storeInboundMessage } from './store-message.js'

export interface ProcessingSummary {
  messages: Record<InboundOutcome, number>
  statuses: Record<StatusOutcome, number>
  unknownPhoneNumbers: number
  skipped: number
}

export interface ProcessOptions {
  optOutKeywords: readonly string[]
  log: Logger
}

function emptySummary(): ProcessingSummary {
  return {
    messages: { stored: 0, duplicate: 0, collision: 0, 'no-sender': 0 },
    statuses: { applied: 0, unchanged: 0, duplicate: 0, pending: 0 },
    unknownPhoneNumbers: 0,
    skipped: 0,
  }
}

async function findPhone(prisma: PrismaClient, phoneNumberId: string): Promise<InboundPhone | undefined> {
  const phone = await prisma.phoneNumber.findFirst({
    where: { phoneNumberId, deletedAt: null },
    select: { id: true, organizationId: true, phoneNumberId: true },
  })
  return phone ?? undefined
}

async function processMessagesChange(
  prisma: PrismaClient,
  value: MetaMessagesValue,
  options: ProcessOptions,
  summary: ProcessingSummary,
): Promise<void> {
  const phoneNumberId = value.metadata?.phone_number_id
  const phone = phoneNumberId ? await findPhone(prisma, phoneNumberId) : undefined
  if (!phone) {
    // Meta routes every tenant's events to one endpoint: an unknown number is logged, never retried.
    summary.unknownPhoneNumbers += 1
    options.log.warn(
      { phoneNumberId: phoneNumberId ?? null },
      'webhook for an unknown phone_number_id ignored',
    )
    return
  }
  const contacts = value.contacts ?? []
  for (const message of value.messages ?? []) {
    const at = metaTime(message.timestamp)
    if (!message.id || !at) {
      summary.skipped += 1
      continue
    }
    const contact = contacts.find(
      (c) =>
        (message.from && c.wa_id === message.from) ||
        (message.from_user_id && c.user_id === message.from_user_id),
    )
    const outcome = await prisma.$transaction((tx) =>
      storeInboundMessage(tx, {
        phone,
        message: { ...message, id: message.id as string },
        contact: contact ?? (contacts.length === 1 ? contacts[0] : undefined),
        at,
        optOutKeywords: options.optOutKeywords,
      }),
    )
    summary.messages[outcome] += 1
    if (outcome === 'collision')
      options.log.warn(
        { wamid: message.id, phoneNumberId: phone.phoneNumberId },
        'inbound message dropped: its wamid belongs to a stored message of another direction or phone number (Meta never reuses wamids: a broken upstream?)',
      )
  }
  for (const status of value.statuses ?? []) {
    const at = metaTime(status.timestamp)
    if (!status.id || !status.status || !at) {
      summary.skipped += 1
      continue
    }
    const outcome = await prisma.$transaction((tx) =>
      recordStatus(tx, {
        wamid: status.id as string,
        status: status.status as string,
        at,
        errorCode: typeof status.errors?.[0]?.code === 'number' ? status.errors[0].code : null,
        raw: status as Prisma.InputJsonObject,
      }),
    )
    summary.statuses[outcome] += 1
  }
  if (value.errors?.length)
    options.log.warn({ phoneNumberId, errors: value.errors }, 'Meta reported errors for a phone number')
}

async function processTemplateStatus(
  prisma: PrismaClient,
  entry: MetaEntry,
  value: MetaTemplateStatusValue,
  summary: ProcessingSummary,
): Promise<void> {
  const wabaId = entry.id
  if (!wabaId || !value.event || !value.message_template_name || !value.message_template_language) {
    summary.skipped += 1
    return
  }
  const status = value.event.toUpperCase()
  await prisma.$transaction(async (tx) => {
    const template = await tx.template.findUnique({
      where: {
        wabaId_name_language: {
          wabaId,
          name: value.message_template_name as string,
          language: value.message_template_language as string,
        },
      },
    })
    if (!template || template.status === status) return
    await tx.template.update({
      where: { id: template.id },
      data: {
        status,
        rejectedReason: value.reason && value.reason !== 'NONE' ? value.reason : template.rejectedReason,
        ...(value.message_template_category ? { category: value.message_template_category } : {}),
      },
    })
    await publishEvent(tx, {
      organizationId: template.organizationId,
      type: 'template.updated',
      data: { templateId: template.id, name: template.name, language: template.language, status },
    })
  })
}

/** Handles every entry, change, message and status of one stored webhook delivery. */
export async function processWebhookPayload(
  prisma: PrismaClient,
  payload: MetaWebhookPayload,
  options: ProcessOptions,
): Promise<ProcessingSummary> {
  const summary = emptySummary()
  for (const entry of payload.entry ?? []) {
    for (const change of entry.changes ?? []) {
      if (!change.value) continue
      if (change.field === 'messages') await processMessagesChange(prisma, change.value, options, summary)
      else if (change.field === 'message_template_status_update')
        await processTemplateStatus(prisma, entry, change.value, summary)
      else summary.skipped += 1
    }
  }
  return summary
}

/** Worker entry: processes the InboundWebhook row once (a retried job after success does nothing). */
export async function processInboundWebhook(
  prisma: PrismaClient,
  inboundWebhookId: string,
  options: ProcessOptions,
): Promise<ProcessingSummary | undefined> {
  const row = await prisma.inboundWebhook.findUnique({ where: { id: inboundWebhookId } })
  if (!row || row.processedAt) return undefined
  try {
    const summary = await processWebhookPayload(prisma, row.raw as MetaWebhookPayload, options)
    await prisma.inboundWebhook.update({
      where: { id: row.id },
      data: { processedAt: new Date(), error: null },
    })
    return summary
  } catch (error) {
    await prisma.inboundWebhook
      .update({ where: { id: row.id }, data: { error: String(error).slice(0, 1_000) } })
      .catch(() => {})
    throw error
  }
}
