import { Redis, type RedisOptions } from 'ioredis'
import { redisTlsOptions } from './tls.js'

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

/** What every connection shares: TLS, its name, a 2 s connect timeout, reconnects backing off up to 1 s. */
function connect(
  redisUrl: string,
  connectionName: string,
  log: RedisErrorLogger | undefined,
  caFile: string | undefined,
  options: RedisOptions,
): Redis {
  const redis = new Redis(redisUrl, {
    ...redisTlsOptions(redisUrl, caFile),
    connectionName,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    ...options,
  })
  return reportErrors(redis, log)
}

/**
 * Connection for request-time commands (health, rate limit): commands fail at once while Redis is
 * unreachable instead of queueing, so a readiness probe or an API call never waits for a dead Redis.
 */
export function createRedisClient(
  redisUrl: string,
  connectionName: string,
  log?: RedisErrorLogger,
  caFile?: string,
): Redis {
  return connect(redisUrl, connectionName, log, caFile, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  })
}

/** Connection for BullMQ (it requires maxRetriesPerRequest: null and blocking commands). */
export function createQueueConnection(
  redisUrl: string,
  connectionName: string,
  log?: RedisErrorLogger,
  caFile?: string,
): Redis {
  return connect(redisUrl, connectionName, log, caFile, { maxRetriesPerRequest: null })
}

/** QUIT when connected (lets pending replies arrive); otherwise stop reconnecting at once. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') {
    await redis.quit().catch(() => redis.disconnect())
  } else {
    redis.disconnect()
  }
}

/** Raised at start when the service must not run on this Redis; printed as one line by the entry points. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StartupError'
  }
}

/** `maxmemory_policy` from INFO memory: CONFIG GET is disabled on ElastiCache, INFO is not. */
export async function readEvictionPolicy(redis: Redis): Promise<string | undefined> {
  const info = await redis.info('memory')
  return /^maxmemory_policy:(\S+)/m.exec(info)?.[1]
}

/**
 * BullMQ needs `maxmemory-policy noeviction`: any other policy lets Redis evict job keys under memory
 * pressure, and a job evicted is a message lost, or sent twice. Refuses to start on such a Redis
 * (StartupError) unless mode is `warn`. A Redis that does not answer within timeoutMs is not judged
 * (the readiness check reports it).
 */
export async function checkEvictionPolicy(
  redis: Redis,
  mode: 'enforce' | 'warn',
  log: { warn(object: object, message: string): void },
  timeoutMs = 10_000,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs)
  })
  const policy = await Promise.race([readEvictionPolicy(redis).catch(() => 'timeout' as const), timedOut])
  clearTimeout(timer)
  if (policy === 'timeout') {
    log.warn({}, 'redis did not answer INFO memory at start: maxmemory-policy not verified')
    return
  }
  if (policy === 'noeviction') return
  const problem = `Redis maxmemory-policy is ${policy ?? 'unknown'}, BullMQ needs noeviction (evicted job keys are lost or repeated sends)`
  if (mode === 'warn') {
    log.warn({ maxmemoryPolicy: policy }, `${problem}; starting anyway (REDIS_EVICTION_POLICY_CHECK=warn)`)
    return
  }
  throw new StartupError(
    `${problem}: set the cache's maxmemory-policy to noeviction, or REDIS_EVICTION_POLICY_CHECK=warn to start anyway`,
  )
}
