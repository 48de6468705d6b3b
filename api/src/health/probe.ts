import type { Redis } from 'ioredis'
import type pg from 'pg'

export type DependencyState = 'connected' | 'disconnected'

/** Resolves true when check() succeeds within timeoutMs; false on error or timeout (a hung dependency). */
async function within(check: () => Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs)
  })
  try {
    return await Promise.race([
      check().then(
        () => true,
        () => false,
      ),
      timeout,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * SELECT 1 over the hot paths' pg pool: the connections that ingest and send accept use, and no ORM
 * runtime in the way (Prisma's query compiler is loaded in the background after start, not before
 * the first probe can pass).
 */
export async function probeDatabase(
  pool: Pick<pg.Pool, 'query'>,
  timeoutMs: number,
): Promise<DependencyState> {
  return (await within(() => pool.query('SELECT 1'), timeoutMs)) ? 'connected' : 'disconnected'
}

/** A client still (re)connecting gets the rest of the timeout to become ready before the PING. */
function whenReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      redis.off('ready', onReady)
      reject(new Error('redis not ready'))
    }, timeoutMs)
    redis.once('ready', onReady)
  })
}

export async function probeRedis(redis: Redis, timeoutMs: number): Promise<DependencyState> {
  return (await within(() => whenReady(redis, timeoutMs).then(() => redis.ping()), timeoutMs))
    ? 'connected'
    : 'disconnected'
}

/**
 * One probe's answer shared by every request that asks while it runs or within maxAgeMs after it
 * started. Under a load balancer's (or a benchmark's) probing a process otherwise spends a database
 * and a Redis round trip per request on the same question; shared, it spends one per maxAgeMs. An
 * answer is never older than maxAgeMs counted from the moment its probe began, so a dependency that
 * goes away shows in the answers within maxAgeMs plus the probe's own timeout.
 */
export class SharedProbe<T> {
  private current: { startedAt: number; answer: Promise<T>; running: boolean } | undefined

  constructor(
    private readonly probe: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get(): Promise<T> {
    const now = this.now()
    const current = this.current
    if (current && now - current.startedAt < this.maxAgeMs) return current.answer
    // A probe still running past maxAgeMs is awaited rather than doubled: it answers within its timeout.
    if (current?.running) return current.answer
    const answer = this.probe()
    const next = { startedAt: now, answer, running: true }
    const settled = () => {
      next.running = false
    }
    answer.then(settled, settled)
    this.current = next
    return answer
  }
}
