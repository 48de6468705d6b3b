import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Queue } from 'bullmq'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type onRequestHookHandler } from 'fastify'
import helmet from 'helmet'
import pino from 'pino'
import type { AppDeps } from './app-context.js'
import { apiPoolSizes, type Config } from './config.js'
import { contactRoutes } from './contacts/routes.js'
import { conversationRoutes } from './conversations/routes.js'
import { DEFAULT_DEPENDENCY_WAIT_MS, waitForConnections } from './db/dependency-outage.js'
import { createPgPool } from './db/pg-pool.js'
import { createPrismaClient } from './db/prisma.js'
import {
  checkEvictionPolicy,
  closeRedis,
  createQueueConnection,
  createRedisClient,
  type RedisErrorLogger,
} from './db/redis.js'
import { postgresClientConfig } from './db/tls.js'
import { Readiness } from './health/readiness.js'
import { healthRoutes } from './health/routes.js'
import { errorHandlerPlugin } from './http/error-handler.js'
import { inputGuardPlugin } from './http/input-guard.js'
import { lazySchemaCompilers } from './http/lazy-schema-compilers.js'
import { loggerOptions } from './logger.js'
import { messageRoutes } from './messages/routes.js'
import { messagingRoutes } from './messaging/routes.js'
import { phoneNumberRoutes } from './phone-numbers/routes.js'
import { createInboundQueue } from './queues/inbound-queue.js'
import { ALL_QUEUE_NAMES } from './queues/names.js'
import { createQueue } from './queues/producer.js'
import { createTypedSql } from './sql/typed-sql.js'
import { statusRoutes } from './status/routes.js'
import { adminRoutes } from './tenancy/admin-routes.js'
import { authenticationPlugin } from './tenancy/authenticate.js'
import { TurnBatchedRedisStore } from './tenancy/rate-limit-store.js'
import { tenantRoutes } from './tenancy/tenant-routes.js'
import { WebhookIngestor } from './webhooks/ingest.js'
import { metaWebhookRoutes } from './webhooks/routes.js'

import './app-context.js'

// ─── Feature plugins ────────────────────────────────────────────────────────────────────────────
// Every feature of the HTTP API with the URL prefix of its routes, registered in this order. Add a
// feature with one line here.
const API_V1 = '/api/v1'
// biome-ignore format: one feature per line keeps additions one-line edits
const FEATURE_PLUGINS: ReadonlyArray<readonly [FastifyPluginAsyncTypebox, string]> = [
  [healthRoutes, '/health'],
  [statusRoutes, API_V1],
  [metaWebhookRoutes, '/webhooks'],
  [adminRoutes, API_V1],
  [tenantRoutes, API_V1],
  [phoneNumberRoutes, API_V1],
  [contactRoutes, API_V1],
  [conversationRoutes, API_V1],
  [messageRoutes, API_V1],
  [messagingRoutes, API_V1],
]
// ────────────────────────────────────────────────────────────────────────────────────────────────

/** When no readiness probe comes (a process started by hand), the ORM warms up this long after start. */
const ORM_WARM_UP_FALLBACK_MS = 1_000
/**
 * Routes whose callers are machines, never browsers, and which carry the platform's load: Meta's
 * webhook deliveries and the readiness probe. Browser security headers mean nothing to them and the
 * tenant rate limit does not apply to them, so neither hook runs there.
 */
function isMachineRoute(url: string): boolean {
  return url === '/webhooks/whatsapp' || url === '/health' || url.startsWith('/health/')
}

/** The routes counted by the per-key rate limit: the tenant and admin API, not the status probe. */
function isRateLimited(url: string): boolean {
  return url.startsWith('/api/v1/') && !url.startsWith('/api/v1/status')
}

/**
 * Helmet's default security headers, computed once. Helmet's own Fastify plugin rebuilds its
 * middleware (parsing the CSP directives again) for every request: ~8 % of the API's CPU under the
 * ingest benchmark. With a fixed configuration the headers are the same for every response, so they
 * are taken from helmet once and set from this table.
 */
function securityHeaders(): Array<[string, string]> {
  const headers: Array<[string, string]> = []
  const response = {
    setHeader: (name: string, value: unknown) => headers.push([name.toLowerCase(), String(value)]),
    removeHeader: () => {},
  }
  helmet()({} as IncomingMessage, response as unknown as ServerResponse, () => {})
  return headers
}

/** Opens the connections of one API process (closed again by app.close() when buildApp made them). */
export function createAppDeps(config: Config, log?: RedisErrorLogger): AppDeps {
  const queueConnection = createQueueConnection(config.redisUrl, 'api-queues', log, config.redisCaFile)
  const inboundQueue = createInboundQueue(queueConnection)
  const queues = new Map<string, Queue>()
  for (const name of ALL_QUEUE_NAMES)
    queues.set(name, name === inboundQueue.name ? inboundQueue : createQueue(name, queueConnection))
  const pools = apiPoolSizes(config)
  const waitMs = config.dependencyWaitMs ?? DEFAULT_DEPENDENCY_WAIT_MS
  const ingestPool = waitForConnections(
    createPgPool({
      ...postgresClientConfig(config.databaseUrl, config.databaseCaFile),
      max: pools.ingest,
      connectionTimeoutMillis: 5_000,
    }),
    waitMs,
  )
  return {
    ingestPool,
    sql: createTypedSql(ingestPool),
    webhookIngestor: new WebhookIngestor(ingestPool, inboundQueue, { dependencyWaitMs: waitMs }),
    prisma: createPrismaClient(config.databaseUrl, {
      maxConnections: pools.prisma,
      caFile: config.databaseCaFile,
      dependencyWaitMs: waitMs,
    }),
    redis: createRedisClient(config.redisUrl, 'api', log, config.redisCaFile),
    queueConnection,
    inboundQueue,
    queues,
  }
}

export async function closeAppDeps(deps: AppDeps): Promise<void> {
  await Promise.allSettled([...deps.queues.values()].map((queue) => queue.close()))
  await Promise.allSettled([
    deps.prisma.$disconnect(),
    deps.ingestPool.end(),
    closeRedis(deps.redis),
    closeRedis(deps.queueConnection),
  ])
}

export interface BuildAppOptions {
  /** Shared connections; when absent buildApp opens its own and app.close() closes them. */
  deps?: AppDeps
}

/** The HTTP API as a Fastify instance, ready to inject() or listen() (server.ts listens). */
export async function buildApp(config: Config, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const logger = pino(loggerOptions(config.logLevel) as pino.LoggerOptions)
  const ownsDeps = !options.deps
  if (ownsDeps) {
    // Before any queue exists: BullMQ would print its own warning about the policy first.
    const probe = createQueueConnection(config.redisUrl, 'api-start', undefined, config.redisCaFile)
    try {
      await checkEvictionPolicy(probe, config.redisEvictionPolicyCheck ?? 'enforce', logger)
    } finally {
      await closeRedis(probe)
    }
  }
  const deps =
    options.deps ?? createAppDeps(config, (error) => logger.warn({ err: error }, 'redis connection failing'))

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    genReqId: (request) => {
      const given = request.headers['x-request-id']
      return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID()
    },
    // The JSON API takes small bodies; the Meta webhook raises its own limit to 3 MB.
    bodyLimit: 256 * 1024,
    trustProxy: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    schemaController: { compilersFactory: lazySchemaCompilers },
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.decorate('config', config)
  app.decorate('deps', deps)
  app.decorate('readiness', new Readiness())
  app.decorate('startedAt', new Date())
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
    // While shutting down, keep-alive sockets close after their response, so close() is not held
    // open by idle connections until keepAliveTimeout.
    if (app.readiness.shuttingDown) reply.header('connection', 'close')
  })
  const background = new Set<Promise<unknown>>()
  app.decorate('runInBackground', (task: Promise<unknown>) => {
    const tracked = task.catch((error: unknown) => app.log.warn({ err: error }, 'background task failed'))
    background.add(tracked)
    tracked.finally(() => background.delete(tracked))
  })
  const closing = new AbortController()
  app.addHook('onClose', async () => {
    closing.abort()
    await Promise.allSettled([...background])
    if (ownsDeps) await closeAppDeps(deps)
  })
  // Open the hot paths' first connection while the listener starts, not before it: a database that is
  // down now must not stop the process from starting (readiness reports it). Prisma's query compiler (a
  // wasm module) loads right after the first readiness answer: readiness probes the database over the pg
  // pool and does not wait for the ORM (see Readiness).
  app.addHook('onReady', async () => {
    const unreachable = (error: unknown) => app.log.warn({ err: error }, 'database not reachable at start')
    app.runInBackground(deps.ingestPool.query('SELECT 1').catch(unreachable))
    app.runInBackground(
      app.readiness
        .afterFirstAnswer(ORM_WARM_UP_FALLBACK_MS, closing.signal, () => deps.prisma.$queryRaw`SELECT 1`)
        .catch(unreachable),
    )
  })

  await app.register(errorHandlerPlugin)
  await app.register(inputGuardPlugin)
  // Per route, decided once when the route is added (before the rate-limit plugin's own onRoute hook
  // sees it): browser security headers everywhere but the machine routes; the per-key rate limit only
  // on the tenant and admin API (Meta's webhooks and the probes are not throttled).
  const headers = securityHeaders()
  const setSecurityHeaders: onRequestHookHandler = (_request, reply, done) => {
    for (const [name, value] of headers) reply.header(name, value)
    done()
  }
  app.addHook('onRoute', (route) => {
    if (!isRateLimited(route.url)) route.config = { ...route.config, rateLimit: false }
    if (isMachineRoute(route.url)) return
    const own = route.onRequest
    route.onRequest = [setSecurityHeaders, ...(own === undefined ? [] : Array.isArray(own) ? own : [own])]
  })
  await app.register(rateLimit, {
    global: true,
    max: config.rateLimitPerMinute,
    timeWindow: 60_000,
    store: class extends TurnBatchedRedisStore {
      constructor() {
        super(deps.redis, 'rl:api:')
      }
    },
    // A Redis outage must not take the API down with it: requests pass unthrottled meanwhile.
    skipOnError: true,
    keyGenerator: (request) => {
      const match = /^Bearer wsk_([a-z0-9]{12})_/i.exec(request.headers.authorization ?? '')
      return match ? `key:${match[1]}` : `ip:${request.ip}`
    },
  })
  await app.register(swagger, {
    openapi: {
      info: { title: 'WhatsApp SaaS API', version: config.appVersion },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'wsk_<prefix>_<secret>' } },
      },
      security: [{ apiKey: [] }],
    },
    // Shared schemas (the error body) appear under their own name in components.schemas, not as def-N.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })
  await app.register(authenticationPlugin)

  for (const [plugin, prefix] of FEATURE_PLUGINS) await app.register(plugin, { prefix })
  return app
}
