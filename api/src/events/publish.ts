import type { Db, Prisma } from '../db/prisma.js'

/** Domain events forwarded to customer webhooks. */
export type DomainEventType = 'message.received' | 'message.status' | 'template.updated'

export interface DomainEventInput {
  organizationId: string
  type: DomainEventType
  data: Prisma.InputJsonObject
}

/**
 * The one way to emit a domain event: an outbox row written with the same transaction client as the
 * change it describes, so an event exists exactly when its change was committed (and a duplicate
 * webhook that changes nothing emits nothing). Delivery to customer endpoints reads the rows whose
 * dispatchedAt is null. Returns the event id (stable across delivery retries).
 */
export async function publishEvent(tx: Db, event: DomainEventInput): Promise<string> {
  const row = await tx.domainEvent.create({
    data: { organizationId: event.organizationId, type: event.type, data: event.data },
    select: { id: true },
  })
  return row.id
}
