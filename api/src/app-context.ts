import type { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import type { Config } from './config.js'
import type { PrismaClient } from './db/prisma.js'
import type { Readiness } from './health/readiness.js'
import type { HostResolver } from './messaging/webhook-url-policy.js'
import type { InboundQueue } from './queues/inbound-queue.js'
import type { TypedSql } from './sql/typed-sql.js'
import type { Tenant } from './tenancy/authenticate.js'
import type { WebhookIngestor } from './webhooks/ingest.js'

/** Long-lived resources shared by the routes of one process. */
export interface AppDeps {
  prisma: PrismaClient
  /** Request-time Redis commands (health, rate limits); fails fast while Redis is down. */
  redis: Redis
  /** BullMQ connection of the producers. */
  queueConnection: Redis
  inboundQueue: InboundQueue
  /** Small pg pool of the hot paths (webhook ingest, send accept). */
  ingestPool: pg.Pool
  /** Typed SQL (Kysely, row types generated from schema.prisma) over ingestPool. */
  sql: TypedSql
  webhookIngestor: WebhookIngestor
  /** One producer per queue name, for depth reports and enqueueing by name. */
  queues: Map<string, Queue>
  /** Resolves customer webhook hosts at registration; the system resolver when absent (tests inject one). */
  resolveHost?: HostResolver
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    deps: AppDeps
    readiness: Readiness
    startedAt: Date
    /** Runs fire-and-forget work that close() still waits for (so pools never close under it). */
    runInBackground(task: Promise<unknown>): void
  }
  interface FastifyRequest {
    /** The authenticated caller of a tenant route (set by the authenticate hook). */
    tenant: Tenant
  }
}
