import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { migrationState } from './migrations.js'

const QueueDepth = Type.Object({
  waiting: Type.Integer(),
  active: Type.Integer(),
  delayed: Type.Integer(),
  failed: Type.Integer(),
})

const Status = Type.Object({
  version: Type.String(),
  uptimeSeconds: Type.Number(),
  startedAt: Type.String({ format: 'date-time' }),
  migrations: Type.Object({
    applied: Type.Array(Type.String()),
    pending: Type.Array(Type.String()),
    unknown: Type.Array(Type.String()),
  }),
  queues: Type.Record(Type.String(), QueueDepth),
})

export async function statusRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/api/v1/status',
    {
      schema: {
        tags: ['health'],
        summary: 'Version, uptime, migrations applied and pending, queue depths',
        response: { 200: Status },
      },
    },
    async () => {
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
        version: app.config.appVersion,
        uptimeSeconds: Math.round(process.uptime() * 10) / 10,
        startedAt: app.startedAt.toISOString(),
        migrations,
        queues: Object.fromEntries(depths),
      }
    },
  )
}
