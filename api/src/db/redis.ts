import { Redis } from 'ioredis'

export type RedisErrorLogger = (error: Error) => void

// ioredis emits 'error' on every failed reconnect attempt; an unlistened 'error' is printed raw.
// Report a failing connection at most once per interval instead.
function reportErrors(redis: Redis, log: RedisErrorLogger | undefined, intervalMs = 30_000): Redis {
  let lastReport = 0
  redis.on('error', (error: Error) => {
    const now = Date.now()
    if (now - lastReport < intervalMs) return
    lastReport = now
    log?.(error)
  })
  return redis
}

/**
 * Connection for request-time commands (health, rate limit): commands fail at once while Redis is
 * unreachable instead of queueing, so a readiness probe or an API call never waits for a dead Redis.
 */
export function createRedisClient(redisUrl: string, connectionName: string, log?: RedisErrorLogger): Redis {
  const redis = new Redis(redisUrl, {
    connectionName,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  })
  return reportErrors(redis, log)
}

/** Connection for BullMQ (it requires maxRetriesPerRequest: null and blocking commands). */
export function createQueueConnection(
  redisUrl: string,
  connectionName: string,
  log?: RedisErrorLogger,
): Redis {
  const redis = new Redis(redisUrl, {
    connectionName,
    maxRetriesPerRequest: null,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  })
  return reportErrors(redis, log)
}

/** QUIT when connected (lets pending replies arrive); otherwise stop reconnecting at once. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') {
    await redis.quit().catch(() => redis.disconnect())
  } else {
    redis.disconnect()
  }
}
