import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { BODY_ERRORS, errorResponses, NoContent, TENANT_ERRORS } from '../http/error-responses.js'
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from '../http/errors.js'
import { DateTime, IdParams, iso, NullableDateTime } from '../http/schemas.js'
import { keyset, PageQuery, pageOf, toPage } from '../pagination/cursor.js'
import {
  CreateApiKeyBody,
  IssuedKey,
  issuedKeyView,
  OrganizationView,
  organizationView,
} from './admin-routes.js'
import { announceApiKeyRevocation } from './api-key-cache.js'
import {
  KeyNoLongerActive,
  mintChildKey,
  RotationRefused,
  revokeKeyTree,
  rotateKey,
} from './key-lifecycle.js'

const ApiKeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  scopes: Type.Array(Type.String()),
  createdAt: DateTime,
  lastUsedAt: NullableDateTime,
  revokedAt: NullableDateTime,
  expiresAt: NullableDateTime,
  parentId: Type.Union([Type.String(), Type.Null()]),
})

const RotateBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    retireOldInSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 30 * 86_400,
        description: 'the old key expires this long after the rotation; absent: it works until revoked',
      }),
    ),
  },
  { additionalProperties: false },
)
const RotatedKey = Type.Intersect([
  IssuedKey,
  Type.Object({ replaces: Type.Object({ id: Type.String(), expiresAt: NullableDateTime }) }),
])

/** The caller's own organization and API keys. */
export const tenantRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/organization',
    {
      preHandler: app.requireTenant('organization:read'),
      schema: {
        tags: ['organization'],
        summary: "The caller's organization",
        response: { 200: OrganizationView, ...errorResponses(...TENANT_ERRORS) },
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
    '/api-keys',
    {
      preHandler: app.requireTenant('api_keys:write'),
      schema: {
        tags: ['api-keys'],
        summary:
          'Issue an API key (shown once): it cannot hold scopes the caller lacks, expires no later than the caller, and is revoked with it',
        body: CreateApiKeyBody,
        response: { 201: IssuedKey, ...errorResponses(...TENANT_ERRORS, ...BODY_ERRORS) },
      },
    },
    async (request, reply) => {
      const body = request.body
      const scopes = body.scopes ?? request.tenant.scopes
      const beyond = scopes.filter((scope) => !request.tenant.scopes.includes(scope))
      if (beyond.length > 0)
        throw new ForbiddenError(`cannot grant scopes the caller lacks: ${beyond.join(', ')}`)
      try {
        // A child of the caller's key: it expires no later than the caller's key and dies with it.
        const key = await mintChildKey(app.deps.prisma, request.tenant.apiKeyId, {
          name: body.name,
          scopes: scopes as NonNullable<CreateApiKeyBody['scopes']>,
          expiresAt: body.expiresAt ? new Date(body.expiresAt) : null,
        })
        return reply.status(201).send(issuedKeyView(key))
      } catch (error) {
        if (error instanceof KeyNoLongerActive)
          throw new UnauthorizedError('invalid, revoked or expired API key')
        throw error
      }
    },
  )

  app.get(
    '/api-keys',
    {
      preHandler: app.requireTenant('api_keys:read'),
      schema: {
        tags: ['api-keys'],
        summary: 'API keys of the organization (never the secrets)',
        querystring: PageQuery,
        response: { 200: pageOf(ApiKeyView), ...errorResponses(...TENANT_ERRORS) },
      },
    },
    async (request) => {
      const query = request.query
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
          parentId: row.parentId,
        }),
      )
    },
  )

  app.delete(
    '/api-keys/:id',
    {
      preHandler: app.requireTenant('api_keys:write'),
      schema: {
        tags: ['api-keys'],
        summary:
          'Revoke an API key and every key minted from it (refused by every API process within a second)',
        params: IdParams,
        response: { 204: NoContent, ...errorResponses(...TENANT_ERRORS, 404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      const key = await app.deps.prisma.apiKey.findFirst({
        where: { id, organizationId: request.tenant.organizationId },
        select: { id: true, organizationId: true },
      })
      if (!key) throw new NotFoundError('API key')
      // Revoking twice keeps the first revocation time; descendants are revoked either way.
      await revokeKeyTree(app.deps.prisma, key, `api_key:${request.tenant.apiKeyId}`)
      await announceApiKeyRevocation(app.deps.redis, app.apiKeyCache)
      return reply.status(204).send()
    },
  )

  app.post(
    '/api-keys/:id/rotate',
    {
      preHandler: app.requireTenant('api_keys:write'),
      schema: {
        tags: ['api-keys'],
        summary:
          'Issue the successor of a key (same scopes, expiry and place among its keys; shown once). Both work until the old one is revoked or retired; only the key itself or a key it was minted from may rotate it',
        params: IdParams,
        body: RotateBody,
        response: { 201: RotatedKey, ...errorResponses(...TENANT_ERRORS, ...BODY_ERRORS, 404, 409) },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      const body = request.body
      const key = await app.deps.prisma.apiKey.findFirst({
        where: { id, organizationId: request.tenant.organizationId },
        select: { id: true },
      })
      if (!key) throw new NotFoundError('API key')
      try {
        const rotated = await rotateKey(app.deps.prisma, request.tenant.apiKeyId, key.id, {
          ...(body.name === undefined ? {} : { name: body.name }),
          ...(body.retireOldInSeconds === undefined
            ? {}
            : { retireOldAt: new Date(Date.now() + body.retireOldInSeconds * 1000) }),
        })
        // An earlier retirement shortens the old key's expiry, which cached copies still hold.
        if (body.retireOldInSeconds !== undefined)
          await announceApiKeyRevocation(app.deps.redis, app.apiKeyCache)
        return reply.status(201).send({
          ...issuedKeyView(rotated.successor),
          replaces: { id: rotated.old.id, expiresAt: iso(rotated.old.expiresAt) },
        })
      } catch (error) {
        if (error instanceof RotationRefused) throw new ForbiddenError(error.message)
        if (error instanceof KeyNoLongerActive)
          throw new ConflictError(
            'API_KEY_INACTIVE',
            'the key is revoked or expired: issue a new one instead',
          )
        throw error
      }
    },
  )
}
