import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { ForbiddenError, NotFoundError } from '../http/errors.js'
import { DateTime, IdParams, iso, NullableDateTime } from '../http/schemas.js'
import { keyset, PageQuery, pageOf, toPage } from '../pagination/cursor.js'
import {
  CreateApiKeyBody,
  IssuedKey,
  issuedKeyView,
  OrganizationView,
  organizationView,
} from './admin-routes.js'
import { issueApiKey } from './api-keys.js'

const ApiKeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  scopes: Type.Array(Type.String()),
  createdAt: DateTime,
  lastUsedAt: NullableDateTime,
  revokedAt: NullableDateTime,
  expiresAt: NullableDateTime,
})

/** The caller's own organization and API keys. */
export async function tenantRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/api/v1/organization',
    {
      preHandler: app.requireTenant('organization:read'),
      schema: {
        tags: ['organization'],
        summary: "The caller's organization",
        response: { 200: OrganizationView },
      },
    },
    async (request) => {
      const org = await app.deps.prisma.organization.findUniqueOrThrow({
        where: { id: request.tenant.organizationId },
      })
      return organizationView(org)
    },
  )

  app.post(
    '/api/v1/api-keys',
    {
      preHandler: app.requireTenant('api_keys:write'),
      schema: {
        tags: ['api-keys'],
        summary: 'Issue an API key (shown once); it cannot hold scopes the caller lacks',
        body: CreateApiKeyBody,
        response: { 201: IssuedKey },
      },
    },
    async (request, reply) => {
      const body = request.body as CreateApiKeyBody
      const scopes = body.scopes ?? request.tenant.scopes
      const beyond = scopes.filter((scope) => !request.tenant.scopes.includes(scope))
      if (beyond.length > 0)
        throw new ForbiddenError(`cannot grant scopes the caller lacks: ${beyond.join(', ')}`)
      const key = await issueApiKey(app.deps.prisma, {
        organizationId: request.tenant.organizationId,
        name: body.name,
        scopes: scopes as CreateApiKeyBody['scopes'],
        expiresAt: body.expiresAt ? new Date(body.expiresAt) : null,
      })
      return reply.status(201).send(issuedKeyView(key))
    },
  )

  app.get(
    '/api/v1/api-keys',
    {
      preHandler: app.requireTenant('api_keys:read'),
      schema: {
        tags: ['api-keys'],
        summary: 'API keys of the organization (never the secrets)',
        querystring: PageQuery,
        response: { 200: pageOf(ApiKeyView) },
      },
    },
    async (request) => {
      const query = request.query as PageQuery
      const page = keyset('createdAt', query)
      const rows = await app.deps.prisma.apiKey.findMany({
        where: { organizationId: request.tenant.organizationId, ...page.where },
        orderBy: page.orderBy,
        take: page.take,
      })
      return toPage(
        rows,
        query,
        (row) => row.createdAt,
        (row) => ({
          id: row.id,
          name: row.name,
          prefix: row.prefix,
          scopes: row.scopes,
          createdAt: row.createdAt.toISOString(),
          lastUsedAt: iso(row.lastUsedAt),
          revokedAt: iso(row.revokedAt),
          expiresAt: iso(row.expiresAt),
        }),
      )
    },
  )

  app.delete(
    '/api/v1/api-keys/:id',
    {
      preHandler: app.requireTenant('api_keys:write'),
      schema: {
        tags: ['api-keys'],
        summary: 'Revoke an API key (takes effect on the next request)',
        params: IdParams,
      },
    },
    async (request, reply) => {
      const { id } = request.params as Static<typeof IdParams>
      const key = await app.deps.prisma.apiKey.findFirst({
        where: { id, organizationId: request.tenant.organizationId },
        select: { id: true },
      })
      if (!key) throw new NotFoundError('API key')
      // Revoking twice keeps the first revocation time.
      await app.deps.prisma.apiKey.updateMany({
        where: { id: key.id, revokedAt: null },
        data: { revokedAt: new Date() },
      })
      return reply.status(204).send()
    },
  )
}
