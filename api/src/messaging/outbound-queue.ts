import type { JobsOptions } from 'bullmq'
import { QUEUE_NAMES } from '../queues/names.js'

export const OUTBOUND_QUEUE = QUEUE_NAMES.outbound

export interface OutboundJobData {
  messageId: string
  /** 131056 answers seen for this message: the pair waits 4^n seconds. */
  pairThrottles?: number
  /** 130429/131048 answers seen: the number pauses for a growing while. */
  numberThrottles?: number
  /** Resends made after an ambiguous outcome (at most one, see README). */
  unconfirmedResends?: number
}

/**
 * BullMQ's own attempts only cover crashes and infrastructure errors (database down): Meta's
 * errors are counted in Message.attempts by the processor, which reschedules the job itself.
 */
export const outboundJobOptions: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 },
  removeOnComplete: { count: 10_000 },
  removeOnFail: { count: 10_000 },
}
