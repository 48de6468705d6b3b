import type { JobsOptions } from 'bullmq'
import { QUEUE_NAMES } from '../queues/names.js'

export const WEBHOOK_DELIVERY_QUEUE = QUEUE_NAMES.webhookDelivery

/** Job names on the webhook-delivery queue. */
export const DELIVER_JOB = 'deliver'
export const DISPATCH_JOB = 'dispatch-events'

export interface DeliverJobData {
  deliveryId: string
}

export function deliverJobOptions(maxAttempts: number, retryBaseMs: number): JobsOptions {
  return {
    attempts: maxAttempts,
    backoff: { type: 'exponential', delay: retryBaseMs, jitter: 0.5 },
    removeOnComplete: { count: 10_000 },
    removeOnFail: { count: 10_000 },
  }
}
