import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { type Static, Type } from '@sinclair/typebox'
import { probeDatabase, probeRedis, SharedProbe } from './probe.js'

const Dependency = Type.Union([Type.Literal('connected'), Type.Literal('disconnected')])
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
  database: Dependency,
  redis: Dependency,
  shuttingDown: Type.Optional(Type.Boolean()),
})
type Readiness = Static<typeof Readiness>

/**
 * How long one probe's answer serves other /health requests. With HEALTH_CHECK_TIMEOUT_MS (1 s by
 * default) bounding the probe itself, a dependency that fails is reported within 1.25 s; one that is
 * refused (down, not hung) within 250 ms.
 */
export const HEALTH_ANSWER_MAX_AGE_MS = 250

/** Readiness (dependencies, each bounded by HEALTH_CHECK_TIMEOUT_MS) and liveness (process only). */
export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const timeoutMs = app.config.healthCheckTimeoutMs
  const dependencies = new SharedProbe(
    () => Promise.all([probeDatabase(app.deps.ingestPool, timeoutMs), probeRedis(app.deps.redis, timeoutMs)]),
    HEALTH_ANSWER_MAX_AGE_MS,
  )

  app.get(
    '/',
    {
      // Served at the prefix itself (/health), not also at /health/.
      prefixTrailingSlash: 'no-slash',
      schema: {
        tags: ['health'],
        summary: 'Readiness: PostgreSQL and Redis reachable, not shutting down',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const [database, redis] = await dependencies.get()
      // Read per request, never from a shared answer: a draining process answers 503 at once.
      const shuttingDown = app.readiness.shuttingDown
      const ok = database === 'connected' && redis === 'connected' && !shuttingDown
      const body: Readiness = { status: ok ? 'ok' : 'error', database, redis }
      if (shuttingDown) body.shuttingDown = true
      if (ok) app.readiness.answeredReady()
      return reply.status(ok ? 200 : 503).send(body)
    },
  )

  app.get(
    '/live',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process answers',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  )
}
