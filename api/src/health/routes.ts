import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { probeDatabase, probeRedis } from './probe.js'

const Dependency = Type.Union([Type.Literal('connected'), Type.Literal('disconnected')])
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
  database: Dependency,
  redis: Dependency,
  shuttingDown: Type.Optional(Type.Boolean()),
})
type Readiness = Static<typeof Readiness>

/** Readiness (dependencies, each bounded by HEALTH_CHECK_TIMEOUT_MS) and liveness (process only). */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/health',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: PostgreSQL and Redis reachable, not shutting down',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const timeoutMs = app.config.healthCheckTimeoutMs
      const [database, redis] = await Promise.all([
        probeDatabase(app.deps.prisma, timeoutMs),
        probeRedis(app.deps.redis, timeoutMs),
      ])
      const shuttingDown = app.readiness.shuttingDown
      const ok = database === 'connected' && redis === 'connected' && !shuttingDown
      const body: Readiness = { status: ok ? 'ok' : 'error', database, redis }
      if (shuttingDown) body.shuttingDown = true
      return reply.status(ok ? 200 : 503).send(body)
    },
  )

  app.get(
    '/health/live',
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
