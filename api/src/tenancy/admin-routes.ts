import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { type Static, Type } from '@sinclair/typebox'
import { ADMIN_ERRORS, BODY_ERRORS, errorResponses, NoContent } from '../http/error-responses.js'
import { NotFoundError } from '../http/errors.js'
import { DateTime, IdParams, LiteralUnion } from '../http/schemas.js'
import { announceApiKeyRevocation } from './api-key-cache.js'
import { issueApiKey } from './api-keys.js'
import { auditLogRoutes, recordAudit } from './audit-log.js'
import { revokeKeyTree } from './key-lifecycle.js'
import { API_KEY_SCOPES } from './scopes.js'

export const Scope = LiteralUnion(API_KEY_SCOPES)

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    scopes: Type.Optional(Type.Array(Scope, { minItems: 1, uniqueItems: true })),
    expiresAt: Type.Optional(DateTime),
  },
  { additionalProperties: false },
)
export type CreateApiKeyBody = Static<typeof CreateApiKeyBody>

export const IssuedKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  scopes: Type.Array(Type.String()),
  createdAt: DateTime,
  expiresAt: Type.Union([DateTime, Type.Null()]),
  key: Type.String({ description: 'The plaintext key, shown only in this response' }),
})

export const OrganizationView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  slug: Type.String(),
  createdAt: DateTime,
})

const CreateOrganizationBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    slug: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,62}$' })),
  },
  { additionalProperties: false },
)

function slugFrom(name: string): string {
  const base = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
  return `${base || 'org'}-${randomBytes(3).toString('hex')}`
}

export function organizationView(org: { id: string; name: string; slug: string; createdAt: Date }) {
  return { id: org.id, name: org.name, slug: org.slug, createdAt: org.createdAt.toISOString() }
}

export function issuedKeyView(key: Awaited<ReturnType<typeof issueApiKey>>) {
  return { ...key, createdAt: key.createdAt.toISOString(), expiresAt: key.expiresAt?.toISOString() ?? null }
}

const OrganizationLookupQuery = Type.Object(
  { slug: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,62}$' }) },
  { additionalProperties: false },
)

const OrganizationKeyParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  keyId: Type.String({ minLength: 1, maxLength: 64 }),
})

/**
 * Platform administration (Bearer ADMIN_TOKEN): organizations, their API keys, the audit log. Every
 * change is written to the audit log in the same transaction.
 */
export const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(auditLogRoutes)

  app.post(
    '/organizations',
    {
      preHandler: app.requireAdmin,
      schema: {
        tags: ['admin'],
        summary: 'Create an organization (platform admin)',
        body: CreateOrganizationBody,
        response: { 201: OrganizationView, ...errorResponses(...ADMIN_ERRORS, ...BODY_ERRORS, 409) },
      },
    },
    async (request, reply) => {
      const body = request.body
      // A taken slug is a unique-key conflict: the error handler answers 409 SLUG_TAKEN naming it.
      const org = await app.deps.prisma.$transaction(async (tx) => {
        const created = await tx.organization.create({
          data: { name: body.name, slug: body.slug ?? slugFrom(body.name) },
        })
        await recordAudit(tx, {
          actor: 'admin',
          action: 'organization.create',
          organizationId: created.id,
          targetId: created.id,
          details: { name: created.name, slug: created.slug },
        })
        return created
      })
      return reply.status(201).send(organizationView(org))
    },
  )

  // Lets automation (the deploy pipeline's synthetic tenant) find the organization it created on an earlier
  // run by its fixed slug, so that re-runs never create a second one.
  app.get(
    '/organizations',
    {
      preHandler: app.requireAdmin,
      schema: {
        tags: ['admin'],
        summary: 'Find an organization by slug (platform admin)',
        querystring: OrganizationLookupQuery,
        response: {
          200: Type.Object({ data: Type.Array(OrganizationView) }),
          ...errorResponses(...ADMIN_ERRORS),
        },
      },
    },
    async (request) => {
      const { slug } = request.query
      const org = await app.deps.prisma.organization.findUnique({ where: { slug } })
      return { data: org ? [organizationView(org)] : [] }
    },
  )

  app.post(
    '/organizations/:id/api-keys',
    {
      preHandler: app.requireAdmin,
      schema: {
        tags: ['admin'],
        summary: 'Issue an API key for an organization (platform admin); the key is shown once',
        params: IdParams,
        body: CreateApiKeyBody,
        response: { 201: IssuedKey, ...errorResponses(...ADMIN_ERRORS, ...BODY_ERRORS, 404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      const body = request.body
      const org = await app.deps.prisma.organization.findUnique({ where: { id }, select: { id: true } })
      if (!org) throw new NotFoundError('organization')
      const key = await app.deps.prisma.$transaction(async (tx) => {
        const issued = await issueApiKey(tx, {
          organizationId: org.id,
          name: body.name,
          scopes: body.scopes,
          expiresAt: body.expiresAt ? new Date(body.expiresAt) : null,
        })
        await recordAudit(tx, {
          actor: 'admin',
          action: 'api_key.create',
          organizationId: org.id,
          targetId: issued.id,
          details: { scopes: issued.scopes, expiresAt: issued.expiresAt?.toISOString() ?? null },
        })
        return issued
      })
      return reply.status(201).send(issuedKeyView(key))
    },
  )

  app.delete(
    '/organizations/:id/api-keys/:keyId',
    {
      preHandler: app.requireAdmin,
      schema: {
        tags: ['admin'],
        summary: 'Revoke an API key and every key minted from it (platform admin)',
        params: OrganizationKeyParams,
        response: { 204: NoContent, ...errorResponses(...ADMIN_ERRORS, 404) },
      },
    },
    async (request, reply) => {
      const { id, keyId } = request.params
      const key = await app.deps.prisma.apiKey.findFirst({
        where: { id: keyId, organizationId: id },
        select: { id: true, organizationId: true },
      })
      if (!key) throw new NotFoundError('API key')
      await revokeKeyTree(app.deps.prisma, key, 'admin')
      await announceApiKeyRevocation(app.deps.redis, app.apiKeyCache)
      return reply.status(204).send()
    },
  )
}
