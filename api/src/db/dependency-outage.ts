import { AsyncLocalStorage } from 'node:async_hooks'
import type pg from 'pg'
import { DependencyUnavailableError } from '../http/errors.js'

// A dependency restarting (PostgreSQL failover or restart, a Redis restart) takes seconds. A request that
// meets it waits, bounded, for the dependency to come back instead of failing at once: connecting again is
// always safe (nothing was sent), a read is safe to repeat, and so is a write that a unique key makes
// idempotent (an Idempotency-Key, a webhook body's hash). Past the bound the answer is 503 with Retry-After.
// Hand-written: pg's pool and Prisma have no retry of their own, and what is safe to repeat is this service's
// knowledge (which writes are idempotent), not a generic retry library's.

/** How long a request waits for a dependency by default (DEPENDENCY_WAIT_MS): longer than a restart takes. */
export const DEFAULT_DEPENDENCY_WAIT_MS = 8_000

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  // PostgreSQL: admin_shutdown, crash_shutdown, cannot_connect_now (starting up or shutting down).
  '57P01',
  '57P02',
  '57P03',
  // Prisma: cannot reach the server, server closed the connection, timed out fetching a pool connection.
  'P1001',
  'P1017',
  'P2024',
])

const CONNECTION_MESSAGES = [
  /Connection terminated/i,
  /connection (?:timeout|closed|refused|reset)/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  /Client was closed and is not queryable/i,
  /terminating connection due to administrator command/i,
  /the database system is (?:starting up|shutting down|in recovery mode)/i,
  /server closed the connection unexpectedly/i,
  /Can't reach database server/i,
  /ECONNREFUSED|ECONNRESET/,
]

/**
 * Whether an error says the dependency could not be reached or dropped the connection, as opposed to an
 * error of the request itself (a constraint, bad input). Looks through `cause` chains and the driver
 * adapter's wrapped errors.
 */
export function isConnectionError(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 5) return false
  const e = error as {
    code?: unknown
    message?: unknown
    cause?: unknown
    errors?: unknown
    originalCode?: unknown
    kind?: unknown
    meta?: { driverAdapterError?: unknown }
  }
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return true
  if (typeof e.originalCode === 'string' && CONNECTION_CODES.has(e.originalCode)) return true
  // Prisma's driver adapter errors: `{ kind: 'postgres' | 'DatabaseNotReachable' | ... }`.
  if (
    typeof e.kind === 'string' &&
    /NotReachable|ConnectionClosed|SocketTimeout|TooManyConnections/.test(e.kind)
  )
    return true
  if (typeof e.message === 'string' && CONNECTION_MESSAGES.some((re) => re.test(e.message as string)))
    return true
  if (Array.isArray(e.errors) && e.errors.some((inner) => isConnectionError(inner, depth + 1))) return true
  // Prisma's known request errors carry the driver adapter's error in meta (P2010 for raw queries).
  if (e.meta && isConnectionError(e.meta.driverAdapterError, depth + 1)) return true
  return isConnectionError(e.cause, depth + 1)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// The deadline of the work retryWhileUnreachable runs, seen by the pool's patient connect (waitForConnections)
// inside it: without it each connection attempt took a fresh DEPENDENCY_WAIT_MS, so a request that had already
// waited (behind the batches in flight, or in an earlier attempt) could wait up to twice the bound.
const workDeadline = new AsyncLocalStorage<number>()

/**
 * Runs `work` with `deadline` (epoch ms; the sooner one when nested) as the bound of every patient connection
 * attempt inside it (waitForConnections): work that has already waited does not get the whole bound again.
 */
export function withinDeadline<T>(deadline: number, work: () => Promise<T>): Promise<T> {
  return workDeadline.run(Math.min(deadline, workDeadline.getStore() ?? Number.POSITIVE_INFINITY), work)
}

/**
 * Runs `work` again while it fails on the connection and `deadline` (epoch ms) is not reached; past it the
 * last connection error becomes a DependencyUnavailableError. Other errors pass through at once.
 * Only for work that is safe to repeat.
 */
export async function retryWhileUnreachable<T>(
  work: () => Promise<T>,
  deadline: number,
  dependency: 'database' | 'redis' = 'database',
): Promise<T> {
  const bound = Math.min(deadline, workDeadline.getStore() ?? Number.POSITIVE_INFINITY)
  let delay = 50
  for (;;) {
    try {
      return await withinDeadline(bound, work)
    } catch (error) {
      if (!isConnectionError(error)) throw error
      if (Date.now() + delay >= bound) throw new DependencyUnavailableError(dependency)
      await sleep(delay)
      delay = Math.min(delay * 2, 500)
    }
  }
}

/**
 * Waits for `promise` until `deadline`; past it, a DependencyUnavailableError. For commands that a client
 * queues while its dependency is away (ioredis' offline queue): they still run once it is back.
 */
export async function untilDeadline<T>(
  promise: Promise<T>,
  deadline: number,
  dependency: 'database' | 'redis',
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DependencyUnavailableError(dependency)),
      Math.max(0, deadline - Date.now()),
    )
  })
  try {
    return await Promise.race([promise, expired])
  } finally {
    clearTimeout(timer)
  }
}

type ConnectCallback = (error: Error | undefined, client?: pg.PoolClient, release?: () => void) => void

/**
 * Makes `pool.connect()` (and so `pool.query()`, which goes through it) try again while PostgreSQL refuses
 * or drops new connections, for up to `waitMs`: a request arriving during a restart waits for the server
 * instead of failing. Connecting is always safe to repeat. Past the bound, the connection error itself.
 */
export function waitForConnections(pool: pg.Pool, waitMs: number): pg.Pool {
  if (waitMs <= 0) return pool
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>
  const patient = async (): Promise<pg.PoolClient> => {
    // Tried at least once; then waits until the sooner of its own bound and the surrounding work's deadline.
    const deadline = Math.min(Date.now() + waitMs, workDeadline.getStore() ?? Number.POSITIVE_INFINITY)
    let delay = 50
    for (;;) {
      try {
        return await connect()
      } catch (error) {
        if (!isConnectionError(error) || Date.now() + delay >= deadline) throw error
        await sleep(delay)
        delay = Math.min(delay * 2, 500)
      }
    }
  }
  // pg-pool's query() calls connect with a callback; everything else awaits the promise.
  ;(pool as { connect: unknown }).connect = (callback?: ConnectCallback) => {
    if (!callback) return patient()
    patient().then(
      (client) => callback(undefined, client, () => client.release()),
      (error: Error) => callback(error),
    )
    return undefined
  }
  return pool
}
