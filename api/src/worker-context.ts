import type { Processor, Queue, WorkerOptions } from 'bullmq'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { Config } from './config.js'
import type { PrismaClient } from './db/prisma.js'
import type { TypedSql } from './sql/typed-sql.js'

/** What a queue processor may use; one instance per worker process. */
export interface WorkerContext {
  config: Config
  prisma: PrismaClient
  /** Typed SQL over the process's own small pg pool: the hot paths' statements (no ORM runtime). */
  sql: TypedSql
  /** BullMQ connection (for producers the processor needs). */
  connection: Redis
  /** Producers by queue name, for processors that enqueue follow-up work. */
  queues: Map<string, Queue>
  log: Logger
}

/** One BullMQ queue's processor, registered in worker.ts's processor list. */
export interface QueueProcessor {
  queue: string
  /** Jobs run at once by this process for this queue (default WORKER_CONCURRENCY). */
  concurrency?: number
  /** Stalled-job detection of this queue's worker (BullMQ's defaults when absent). */
  stalled?: Pick<WorkerOptions, 'lockDuration' | 'stalledInterval' | 'maxStalledCount'>
  create(context: WorkerContext): Processor
}
