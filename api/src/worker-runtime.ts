import { type Queue, Worker } from 'bullmq'
import type pg from 'pg'
import pino from 'pino'
import { type Config, workerPoolSize } from './config.js'
import { createPgPool } from './db/pg-pool.js'
import { createPrismaClient } from './db/prisma.js'
import { checkEvictionPolicy, closeRedis, createQueueConnection } from './db/redis.js'
import { postgresClientConfig } from './db/tls.js'
import { loggerOptions } from './logger.js'
import { ALL_QUEUE_NAMES } from './queues/names.js'
import { createQueue } from './queues/producer.js'
import { createTypedSql } from './sql/typed-sql.js'
import type { QueueProcessor, WorkerContext } from './worker-context.js'

/** Connections of the worker's typed-SQL pool. */
const SQL_POOL_MAX = 8

export interface RunningWorkers {
  context: WorkerContext
  workers: Worker[]
  /** Stops taking jobs, lets running jobs finish, then closes every connection. */
  close(): Promise<void>
}

/** Starts one BullMQ Worker per processor, sharing one Prisma client and one producer connection. */
export async function startWorkers(
  config: Config,
  processors: readonly QueueProcessor[],
): Promise<RunningWorkers> {
  const log = pino(loggerOptions(config.logLevel) as pino.LoggerOptions)
  const logRedis = (error: Error) => log.warn({ err: error }, 'redis connection failing')
  const connection = createQueueConnection(config.redisUrl, 'worker-producers', logRedis, config.redisCaFile)
  try {
    await checkEvictionPolicy(connection, config.redisEvictionPolicyCheck ?? 'enforce', log)
  } catch (error) {
    await closeRedis(connection)
    throw error
  }
  const prisma = createPrismaClient(config.databaseUrl, {
    maxConnections: workerPoolSize(config),
    caFile: config.databaseCaFile,
  })
  // The sender's statements are batched (one per tick or per event-loop turn), so a few connections
  // carry them whatever WORKER_CONCURRENCY is.
  const pool = createPgPool(
    {
      ...postgresClientConfig(config.databaseUrl, config.databaseCaFile),
      max: SQL_POOL_MAX,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
    },
    (error) => log.warn({ err: error }, 'database connection lost'),
  )
  // Connected before the first job: the sender's first batches would otherwise wait for TLS and
  // SCRAM handshakes, one per connection, while their rate slots pass.
  await warmUp(pool, SQL_POOL_MAX, log)
  const queues = new Map<string, Queue>(ALL_QUEUE_NAMES.map((name) => [name, createQueue(name, connection)]))
  const context: WorkerContext = { config, prisma, sql: createTypedSql(pool), connection, queues, log }

  const workers = processors.map((definition) => {
    const worker = new Worker(definition.queue, definition.create(context), {
      connection: createQueueConnection(
        config.redisUrl,
        `worker-${definition.queue}`,
        logRedis,
        config.redisCaFile,
      ),
      concurrency: definition.concurrency ?? config.workerConcurrency,
      ...definition.stalled,
      autorun: true,
    })
    worker.on('failed', (job, error) =>
      log.warn(
        { queue: definition.queue, jobId: job?.id, attempts: job?.attemptsMade, err: error },
        'job failed',
      ),
    )
    worker.on('error', (error) => log.error({ queue: definition.queue, err: error }, 'worker error'))
    return worker
  })
  await Promise.all(workers.map((worker) => worker.waitUntilReady()))
  log.info({ queues: processors.map((p) => p.queue) }, 'workers started')

  return {
    context,
    workers,
    async close() {
      // Worker.close() waits for the jobs in progress, then releases its blocking connection.
      await Promise.allSettled(workers.map((worker) => worker.close()))
      await Promise.allSettled([...queues.values()].map((queue) => queue.close()))
      await Promise.allSettled([prisma.$disconnect(), pool.end(), closeRedis(connection)])
    },
  }
}

/** Opens `count` connections of the pool (kept idle in it); a failure is logged, not fatal. */
async function warmUp(pool: pg.Pool, count: number, log: pino.Logger): Promise<void> {
  const clients = await Promise.allSettled(Array.from({ length: count }, () => pool.connect()))
  for (const client of clients) {
    if (client.status === 'fulfilled') client.value.release()
    else log.warn({ err: client.reason }, 'database connection not opened at start')
  }
}
