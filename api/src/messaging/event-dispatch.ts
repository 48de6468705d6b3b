import type { Queue } from 'bullmq'
import type { PrismaClient } from '../db/prisma.js'
import type { Prisma } from '../generated/prisma/client.js'
import { DELIVER_JOB, deliverJobOptions } from './customer-webhook-queue.js'
import type { MessagingSettings } from './messaging-settings.js'

interface PendingEvent {
  id: string
  organizationId: string
  type: string
  data: Prisma.JsonValue
  createdAt: Date
}

/** The body customers receive: `{ id, type, createdAt, organizationId, data }` (README.md). */
export function eventPayload(event: PendingEvent) {
  return {
    id: event.id,
    type: event.type,
    createdAt: event.createdAt.toISOString(),
    organizationId: event.organizationId,
    data: event.data,
  }
}

/**
 * Turns outbox rows (DomainEvent, written by publishEvent in the transaction of their change) into
 * one WebhookDelivery per subscribed endpoint enabled when the event occurred, then enqueues them.
 * Rows are claimed with FOR UPDATE SKIP LOCKED, so several workers dispatch side by side;
 * (endpointId, eventId) is unique and the job id is the delivery id, so a repeated dispatch creates
 * and sends nothing twice.
 * Returns the number of events dispatched.
 */
export async function dispatchPendingEvents(
  prisma: PrismaClient,
  queue: Queue,
  settings: MessagingSettings,
  batchSize = 200,
): Promise<number> {
  const created = await prisma.$transaction(async (tx) => {
    const events = await tx.$queryRaw<PendingEvent[]>`
      SELECT id, "organizationId", type, data, "createdAt" FROM "DomainEvent"
      WHERE "dispatchedAt" IS NULL ORDER BY "createdAt" LIMIT ${batchSize} FOR UPDATE SKIP LOCKED`
    if (events.length === 0) return { events: 0, deliveries: [] as string[] }
    const organizations = [...new Set(events.map((e) => e.organizationId))]
    const endpoints = await tx.webhookEndpoint.findMany({
      where: { organizationId: { in: organizations }, enabled: true },
      select: { id: true, organizationId: true, events: true, enabledAt: true },
    })
    // Dispatch runs behind the events: an endpoint created or re-enabled since an event occurred
    // does not receive it.
    const rows = events.flatMap((event) =>
      endpoints
        .filter(
          (e) =>
            e.organizationId === event.organizationId &&
            e.events.includes(event.type) &&
            e.enabledAt <= event.createdAt,
        )
        .map((endpoint) => ({
          endpointId: endpoint.id,
          eventId: event.id,
          eventType: event.type,
          payload: eventPayload(event) as Prisma.InputJsonObject,
          status: 'PENDING' as const,
          nextAttemptAt: new Date(),
        })),
    )
    const deliveries = rows.length
      ? await tx.webhookDelivery.createManyAndReturn({
          data: rows,
          skipDuplicates: true,
          select: { id: true },
        })
      : []
    await tx.domainEvent.updateMany({
      where: { id: { in: events.map((e) => e.id) } },
      data: { dispatchedAt: new Date() },
    })
    return { events: events.length, deliveries: deliveries.map((d) => d.id) }
  })
  if (created.deliveries.length > 0)
    await queue.addBulk(
      created.deliveries.map((deliveryId) => ({
        name: DELIVER_JOB,
        data: { deliveryId },
        opts: {
          ...deliverJobOptions(settings.customerWebhookMaxAttempts, settings.customerWebhookRetryBaseMs),
          jobId: deliveryId,
        },
      })),
    )
  return created.events
}
