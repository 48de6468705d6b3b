/**
 * Every BullMQ queue of the service, by name. /api/v1/status reports the depth of each one listed
 * here; add a queue's name here when adding its processor to the worker.
 */
export const QUEUE_NAMES = {
  inbound: 'wa-inbound',
  outbound: 'wa-outbound',
  webhookDelivery: 'webhook-delivery',
  maintenance: 'wa-maintenance',
} as const

export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES]

export const ALL_QUEUE_NAMES: readonly QueueName[] = Object.values(QUEUE_NAMES)
