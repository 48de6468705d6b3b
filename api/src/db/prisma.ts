import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../generated/prisma/client.js'

export type { Prisma } from '../generated/prisma/client.js'
export { PrismaClient }

/** A transaction client or the full client: what data functions that may run inside $transaction accept. */
export type Db = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>

export interface PrismaOptions {
  /** Pool size of this process. */
  maxConnections?: number
  /** A connection attempt that takes longer fails, so a hung database cannot pile up waiting requests. */
  connectionTimeoutMs?: number
}

/** Prisma client on the pg driver adapter (Prisma 6.19 "client" engine: no native query engine). */
export function createPrismaClient(databaseUrl: string, options: PrismaOptions = {}): PrismaClient {
  const adapter = new PrismaPg({
    connectionString: databaseUrl,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
  })
  return new PrismaClient({ adapter })
}
