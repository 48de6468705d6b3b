import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ANY_ROUTE_ERRORS, errorResponses } from '../http/error-responses.js'
import { migrationState } from './migrations.js'

const QueueDepth = Type.Object({
  waiting: Type.Integer(),
  active: Type.Integer(),
  delayed: Type.Integer(),
  failed: Type.Integer(),
})

const Status = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('shutting_down')]),
  version: Type.String(),
  // Admin only: migration names and queue depths describe the internals, not the service's health.
  uptimeSeconds: Type.Optional(Type.Number()),
  startedAt: Type.Optional(Type.String({ format: 'date-time' })),
  migrations: Type.Optional(
    Type.Object({
      applied: Type.Array(Type.String()),
      pending: Type.Array(Type.String()),
      unknown: Type.Array(Type.String()),
    }),
  ),
  queues: Type.Optional(Type.Record(Type.String(), QueueDepth)),
})

export const statusRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/status',
    {
      schema: {
        tags: ['health'],
        summary:
          'Public: status and version. With the admin token (Bearer ADMIN_TOKEN): also uptime, migrations applied and pending, queue depths',
        response: { 200: Status, ...errorResponses(...ANY_ROUTE_ERRORS, 401) },
      },
    },
    async (request) => {
      const summary = {
        status: app.readiness.shuttingDown ? ('shutting_down' as const) : ('ok' as const),
        version: app.config.appVersion,
      }
      if (request.headers.authorization === undefined) return summary
      // A caller that sends credentials wants the details: a wrong token is a 401, not the public view.
      await app.requireAdmin(request)
      const [migrations, depths] = await Promise.all([
        migrationState(app.deps.prisma),
        Promise.all(
          [...app.deps.queues.entries()].map(async ([name, queue]) => {
            const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized')
            const depth = {
              waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
              active: counts.active ?? 0,
              delayed: counts.delayed ?? 0,
              failed: counts.failed ?? 0,
            }
            return [name, depth] as const
          }),
        ),
      ])
      return {
        ...summary,
        uptimeSeconds: Math.round(process.uptime() * 10) / 10,
        startedAt: app.startedAt.toISOString(),
        migrations,
        queues: Object.fromEntries(depths),
      }
    },
  )
}
