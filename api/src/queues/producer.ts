import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'

/** A producer handle on a queue by name (for enqueueing and depth reports). */
export function createQueue(name: string, connection: Redis): Queue {
  return new Queue(name, { connection })
}
