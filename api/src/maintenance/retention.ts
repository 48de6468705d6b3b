import type { Processor } from 'bullmq'
import type { PrismaClient } from '../db/prisma.js'
import { QUEUE_NAMES } from '../queues/names.js'
import type { QueueProcessor } from '../worker-context.js'

export const PRUNE_JOB = 'prune-history'
const PRUNE_EVERY_MS = 60 * 60 * 1000
const DAY_MS = 24 * 60 * 60 * 1000

export interface PrunedHistory {
  inboundWebhooks: number
  domainEvents: number
  webhookDeliveries: number
}

/**
 * Deletes the history that only grows: Meta webhooks already processed, domain events already
 * dispatched, and customer deliveries that ended (succeeded or failed, with their attempts), all older
 * than `olderThan`. Unprocessed, undispatched and pending rows are never touched, whatever their age.
 * Batches of `batchSize` rows per statement keep locks and WAL bursts small on a large backlog.
 */
export async function pruneHistory(
  prisma: PrismaClient,
  olderThan: Date,
  batchSize = 5_000,
): Promise<PrunedHistory> {
  const drain = async (remove: () => Promise<number>) => {
    let total = 0
    for (;;) {
      const removed = await remove()
      total += removed
      if (removed < batchSize) return total
    }
  }
  return {
    inboundWebhooks: await drain(
      () => prisma.$executeRaw`
        DELETE FROM "InboundWebhook" WHERE id IN (
          SELECT id FROM "InboundWebhook" WHERE "processedAt" < ${olderThan} LIMIT ${batchSize})`,
    ),
    domainEvents: await drain(
      () => prisma.$executeRaw`
        DELETE FROM "DomainEvent" WHERE id IN (
          SELECT id FROM "DomainEvent" WHERE "dispatchedAt" < ${olderThan} LIMIT ${batchSize})`,
    ),
    webhookDeliveries: await drain(
      () => prisma.$executeRaw`
        DELETE FROM "WebhookDelivery" WHERE id IN (
          SELECT id FROM "WebhookDelivery"
          WHERE status IN ('SUCCEEDED', 'FAILED') AND "updatedAt" < ${olderThan} LIMIT ${batchSize})`,
    ),
  }
}

/** `wa-maintenance`: prunes history hourly (one scheduler shared by every worker process). */
export const maintenanceProcessor: QueueProcessor = {
  queue: QUEUE_NAMES.maintenance,
  concurrency: 1,
  create(context) {
    const queue = context.queues.get(QUEUE_NAMES.maintenance)
    if (!queue) throw new Error(`queue ${QUEUE_NAMES.maintenance} is not configured`)
    queue
      .upsertJobScheduler(
        PRUNE_JOB,
        { every: PRUNE_EVERY_MS },
        { name: PRUNE_JOB, opts: { removeOnComplete: 24, removeOnFail: 100 } },
      )
      .catch((error: unknown) => context.log.error({ err: error }, 'could not schedule history pruning'))
    const log = context.log.child({ queue: QUEUE_NAMES.maintenance })
    const processor: Processor = async (job) => {
      if (job.name !== PRUNE_JOB) return 'unknown job'
      const olderThan = new Date(Date.now() - context.config.historyRetentionDays * DAY_MS)
      const pruned = await pruneHistory(context.prisma, olderThan)
      log.info({ olderThan, ...pruned }, 'history pruned')
      return pruned
    }
    return processor
  },
}
