import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { QUEUE_NAMES } from './names.js'
import { silenceConnectionErrors } from './producer.js'

export interface InboundJobData {
  inboundWebhookId: string
}

export type InboundQueue = Queue<InboundJobData, void, 'inbound'>

/** Jobs are keyed by InboundWebhook.id, so enqueueing the same delivery twice runs it once. */
export function createInboundQueue(connection: Redis): InboundQueue {
  const queue = new Queue<InboundJobData, void, 'inbound'>(QUEUE_NAMES.inbound, {
    connection,
    defaultJobOptions: {
      attempts: 8,
      backoff: { type: 'exponential', delay: 1_000 },
      removeOnComplete: { count: 1_000 },
      removeOnFail: { count: 10_000 },
    },
  })
  return silenceConnectionErrors(queue)
}
