import Fastify, { type FastifyInstance } from 'fastify'
import { controlRoutes } from './control-routes.js'
import { graphRoutes } from './graph-routes.js'
import { metaErrorBody } from './meta-errors.js'
import type { OrganicLimitsConfig } from './organic-limits.js'
import { FakeGraphState, type FakeGraphStateOptions } from './state.js'
import { WebhookEmitter } from './webhook-emitter.js'

export interface FakeGraphOptions {
  port?: number
  host?: string
  /** Where signed webhooks go, e.g. http://127.0.0.1:3000/webhooks/whatsapp. None = no webhooks. */
  webhookUrl?: string
  /** Meta app secret that signs webhooks (X-Hub-Signature-256). */
  appSecret?: string
  /** Accepted Bearer token; any non-empty token when absent. */
  accessToken?: string
  /** Seed of deterministic ids; absent: random per start, so ids stay unique across restarts. */
  seed?: string
  /** WABA of phone numbers that were not registered through /__fake/phone-numbers. */
  defaultWabaId?: string
  /** Recorded requests kept in memory (oldest dropped first). */
  maxRecorded?: number
  limits?: OrganicLimitsConfig
  enforceServiceWindow?: boolean
  enforceTemplates?: boolean
  initialTemplates?: FakeGraphStateOptions['initialTemplates']
  webhookRetries?: number
  webhookRetryBaseMs?: number
  logger?: boolean
}

export interface FakeGraph {
  readonly url: string
  readonly port: number
  readonly app: FastifyInstance
  readonly state: FakeGraphState
  close(): Promise<void>
}

export const DEFAULT_WABA_ID = '100000000000001'

/** Builds the fake Graph API without listening (for `inject` tests and for `createFakeGraph`). */
export function buildFakeGraph(options: FakeGraphOptions = {}): {
  app: FastifyInstance
  state: FakeGraphState
} {
  const emitter = new WebhookEmitter({
    url: options.webhookUrl,
    appSecret: options.appSecret ?? 'fake-app-secret',
    maxRetries: options.webhookRetries ?? 5,
    retryBaseMs: options.webhookRetryBaseMs ?? 200,
    maxPending: 100_000,
  })
  const state = new FakeGraphState(
    {
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      defaultWabaId: options.defaultWabaId ?? DEFAULT_WABA_ID,
      maxRecorded: options.maxRecorded ?? 20_000,
      limits: options.limits ?? {},
      enforceServiceWindow: options.enforceServiceWindow ?? true,
      enforceTemplates: options.enforceTemplates ?? true,
      initialTemplates: options.initialTemplates ?? [
        { name: 'hello_world', language: 'en_US', category: 'UTILITY', status: 'APPROVED' },
      ],
    },
    emitter,
  )
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 3 * 1024 * 1024 })
  // Graph answers malformed requests with its own envelope, never Fastify's.
  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
    const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 500
    if (request.url.startsWith('/__fake')) return reply.code(status).send({ error: error.message })
    return reply.code(status === 500 ? 500 : 400).send(metaErrorBody(100, state.ids.next('A'), error.message))
  })
  app.register(controlRoutes, { state, prefix: '/__fake' })
  app.register(graphRoutes, { state, ...(options.accessToken ? { accessToken: options.accessToken } : {}) })
  app.addHook('onClose', async () => emitter.close())
  return { app, state }
}

/** Starts the fake Graph API on a port (a free one by default) of 127.0.0.1. */
export async function createFakeGraph(options: FakeGraphOptions = {}): Promise<FakeGraph> {
  const { app, state } = buildFakeGraph(options)
  const host = options.host ?? '127.0.0.1'
  await app.listen({ port: options.port ?? 0, host })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0)
  return {
    url: `http://${host}:${port}`,
    port,
    app,
    state,
    close: () => app.close(),
  }
}
