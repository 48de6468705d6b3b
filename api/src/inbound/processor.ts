import type { Job } from 'bullmq'
import type { InboundJobData } from '../queues/inbound-queue.js'
import { QUEUE_NAMES } from '../queues/names.js'
import type { QueueProcessor } from '../worker-context.js'
import { processInboundWebhook } from './process-webhook.js'

/** `wa-inbound`: one job per stored Meta webhook delivery (job id = InboundWebhook.id). */
export const inboundWebhookProcessor: QueueProcessor = {
  queue: QUEUE_NAMES.inbound,
  create: (context) => async (job: Job<InboundJobData>) => {
    const summary = await processInboundWebhook(context.prisma, job.data.inboundWebhookId, {
      optOutKeywords: context.config.optOutKeywords,
      log: context.log,
    })
    return summary ?? null
  },
}
