import type { EventEmitter } from 'node:events'
import { PrismaPg } from '@prisma/adapter-pg'
import type pg from 'pg'
import { PrismaClient } from '../generated/prisma/client.js'
import { retryWhileUnreachable, waitForConnections } from './dependency-outage.js'
import { createPgPool } from './pg-pool.js'
import { postgresClientConfig } from './tls.js'

export type { Prisma } from '../generated/prisma/client.js'
export { PrismaClient }

/** A transaction client or the full client: what data functions that may run inside $transaction accept. */
export type Db = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>

export interface PrismaOptions {
  /** Pool size of this process. */
  maxConnections?: number
  /** A connection attempt that takes longer fails, so a hung database cannot pile up waiting requests. */
  connectionTimeoutMs?: number
  /** DATABASE_CA_FILE of the process (see tls.ts); absent: read from the environment. */
  caFile?: string
  /**
   * How long a query waits for an unreachable database (dependency-outage.ts): new connections are tried
   * again and reads repeated on a dropped connection. 0 (default): fail at once.
   */
  dependencyWaitMs?: number
}

/** Operations that only read: repeating one after a dropped connection cannot change anything. */
const READ_OPERATIONS = new Set([
  'findUnique',
  'findUniqueOrThrow',
  'findFirst',
  'findFirstOrThrow',
  'findMany',
  'count',
  'aggregate',
  'groupBy',
])

/**
 * A pg pool that never lends out a connection still inside a transaction.
 *
 * Prisma's client engine gives a connection back without ROLLBACK when a transaction's maxWait (2 s by
 * default, implicit transactions of createMany and nested writes included) runs out while its BEGIN is
 * in flight (prisma/orm#29719, open in 6.19). Under load that happens: the connection stays
 * "idle in transaction", each one shrinks the pool until requests time out waiting for it, and the
 * next COMMIT on it would commit the abandoned work along with its own. PostgreSQL reports the
 * transaction state in every ReadyForQuery message; a connection released in state T (in a
 * transaction) or E (failed transaction) gets a ROLLBACK queued before anything else can run on it.
 * No library covers this: it is a guard around one driver adapter's bug, to go once Prisma fixes it.
 */
export function createTransactionSafePool(
  config: pg.PoolConfig,
  onAbandonedTransaction: () => void = () => {},
): pg.Pool {
  const pool = createPgPool(config)
  const transactionState = new WeakMap<pg.PoolClient, string>()
  pool.on('connect', (client) => {
    const connection = (client as unknown as { connection: EventEmitter }).connection
    connection.on('readyForQuery', (message: { status: string }) => {
      transactionState.set(client, message.status)
    })
  })
  pool.on('release', (error, client) => {
    if (error) return // the pool destroys this connection
    const state = transactionState.get(client)
    if (state !== 'T' && state !== 'E') return
    transactionState.set(client, 'I')
    onAbandonedTransaction()
    // pg runs a client's queries in order: this ROLLBACK precedes the next borrower's first query.
    client.query('ROLLBACK').catch(() => {})
  })
  return pool
}

/** Prisma client on the pg driver adapter (Prisma 6.19 "client" engine: no native query engine). */
export function createPrismaClient(databaseUrl: string, options: PrismaOptions = {}): PrismaClient {
  const waitMs = options.dependencyWaitMs ?? 0
  const pool = waitForConnections(
    createTransactionSafePool({
      ...postgresClientConfig(databaseUrl, options.caFile),
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
      idleTimeoutMillis: 30_000,
    }),
    waitMs,
  )
  const adapter = new PrismaPg(pool, { disposeExternalPool: true })
  const client = new PrismaClient({ adapter })
  if (waitMs <= 0) return client
  // The extended client keeps PrismaClient's whole API; only its static type is a different (generated) one.
  return client.$extends({
    query: {
      $allOperations({ operation, args, query }) {
        if (!READ_OPERATIONS.has(operation)) return query(args)
        return retryWhileUnreachable(() => query(args), Date.now() + waitMs)
      },
    },
  }) as unknown as PrismaClient
}
