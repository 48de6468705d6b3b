import { createHash } from 'node:crypto'
import type { PrismaClient } from '../db/prisma.js'
import type { InboundQueue } from '../queues/inbound-queue.js'

export type IngestOutcome = 'queued' | 'duplicate'

/**
 * Persists one verified delivery and queues it: one INSERT ... ON CONFLICT on the body's SHA-256 (an
 * exact Meta retry is a no-op) and one queue add keyed by the row id. A retry of a delivery that is
 * stored but not processed yet is queued again (same job id, so BullMQ keeps a single job).
 */
export async function ingestWebhook(
  prisma: PrismaClient,
  queue: InboundQueue,
  rawBody: Buffer,
  json: string,
): Promise<IngestOutcome> {
  const bodySha256 = createHash('sha256').update(rawBody).digest('hex')
  const rows = await prisma.$queryRaw<{ id: string; inserted: boolean; processed: boolean }[]>`
    WITH inserted AS (
      INSERT INTO "InboundWebhook" (id, "bodySha256", raw)
      VALUES (gen_random_uuid()::text, ${bodySha256}, ${json}::jsonb)
      ON CONFLICT ("bodySha256") DO NOTHING
      RETURNING id
    )
    SELECT id, true AS inserted, false AS processed FROM inserted
    UNION ALL
    SELECT id, false, "processedAt" IS NOT NULL FROM "InboundWebhook"
    WHERE "bodySha256" = ${bodySha256} AND NOT EXISTS (SELECT 1 FROM inserted)`
  const row = rows[0]
  // No row: a concurrent identical delivery holds the insert, and that request queues it.
  if (!row || row.processed) return 'duplicate'
  await queue.add('inbound', { inboundWebhookId: row.id }, { jobId: row.id })
  return row.inserted ? 'queued' : 'duplicate'
}
