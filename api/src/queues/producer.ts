import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'

/** A producer handle on a queue by name (for enqueueing and depth reports). */
export function createQueue(name: string, connection: Redis): Queue {
  return silenceConnectionErrors(new Queue(name, { connection }))
}

/**
 * A Queue re-emits its connection's errors and prints them when nobody listens. The connection
 * already reports them (throttled, see db/redis.ts), so the queue's copies are dropped.
 */
export function silenceConnectionErrors<Q extends Queue>(queue: Q): Q {
  queue.on('error', () => {})
  return queue
}
