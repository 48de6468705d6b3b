import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Db, Prisma } from '../db/prisma.js'
import { ADMIN_ERRORS, errorResponses } from '../http/error-responses.js'
import { DateTime } from '../http/schemas.js'
import { keyset, PageQuery, pageOf, toPage } from '../pagination/cursor.js'

export interface AuditEntry {
  /** `admin` (the platform admin token) or `api_key:<id>` */
  actor: 'admin' | `api_key:${string}`
  action: 'organization.create' | 'api_key.create' | 'api_key.revoke' | 'api_key.rotate'
  organizationId: string | null
  targetId: string | null
  /** What changed; never a secret (keys appear by id only). */
  details: Prisma.InputJsonObject
}

/** Writes one entry; pass the transaction of the change so that the change and its record commit together. */
export async function recordAudit(db: Db, entry: AuditEntry): Promise<void> {
  await db.auditLog.create({ data: entry })
}

const AuditView = Type.Object({
  id: Type.String(),
  at: DateTime,
  actor: Type.String(),
  action: Type.String(),
  organizationId: Type.Union([Type.String(), Type.Null()]),
  targetId: Type.Union([Type.String(), Type.Null()]),
  details: Type.Unknown(),
})
const AuditQuery = Type.Intersect([
  PageQuery,
  Type.Object({ organizationId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }),
])

/** GET /api/v1/audit-log (platform admin): newest first, keyset-paginated, optionally one organization's. */
export const auditLogRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/audit-log',
    {
      preHandler: app.requireAdmin,
      schema: {
        tags: ['admin'],
        summary: 'Who did what, when: admin actions and API key lifecycle (platform admin)',
        querystring: AuditQuery,
        response: { 200: pageOf(AuditView), ...errorResponses(...ADMIN_ERRORS) },
      },
    },
    async (request) => {
      const query = request.query
      const page = keyset('at', query)
      const rows = await app.deps.prisma.auditLog.findMany({
        where: { ...(query.organizationId ? { organizationId: query.organizationId } : {}), ...page.where },
        orderBy: page.orderBy,
        take: page.take,
      })
      return toPage(
        rows,
        query,
        (row) => row.at,
        (row) => ({ ...row, at: row.at.toISOString() }),
      )
    },
  )
}
