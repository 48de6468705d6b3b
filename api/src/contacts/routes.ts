import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { type Static, Type } from '@sinclair/typebox'
import type { Contact, Prisma } from '../generated/prisma/client.js'
import { BODY_ERRORS, errorResponses, TENANT_ERRORS } from '../http/error-responses.js'
import { NotFoundError, ValidationError } from '../http/errors.js'
import { DateTime, IdParams, iso, NullableDateTime } from '../http/schemas.js'
import { keyset, PageQuery, pageOf, toPage } from '../pagination/cursor.js'

const Attributes = Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), { maxProperties: 100 })
const WaId = Type.String({ pattern: '^[0-9]{5,20}$', description: 'WhatsApp id (phone digits)' })
const Bsuid = Type.String({ minLength: 3, maxLength: 128, description: 'Business-scoped user id' })

export const ContactView = Type.Object({
  id: Type.String(),
  waId: Type.Union([Type.String(), Type.Null()]),
  bsuid: Type.Union([Type.String(), Type.Null()]),
  profileName: Type.Union([Type.String(), Type.Null()]),
  attributes: Type.Unknown(),
  optedOut: Type.Boolean(),
  optedOutAt: NullableDateTime,
  optOutSource: Type.Union([Type.String(), Type.Null()]),
  createdAt: DateTime,
  updatedAt: DateTime,
})

const CreateBody = Type.Object(
  {
    waId: Type.Optional(WaId),
    bsuid: Type.Optional(Bsuid),
    profileName: Type.Optional(Type.String({ maxLength: 200 })),
    attributes: Type.Optional(Attributes),
  },
  { additionalProperties: false },
)

const UpdateBody = Type.Object(
  {
    profileName: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
    attributes: Type.Optional(Attributes),
  },
  { additionalProperties: false, minProperties: 1 },
)

const ListQuery = Type.Intersect([
  PageQuery,
  Type.Object({ waId: Type.Optional(WaId), optedOut: Type.Optional(Type.Boolean()) }),
])

export function contactView(contact: Contact): Static<typeof ContactView> {
  return {
    id: contact.id,
    waId: contact.waId,
    bsuid: contact.bsuid,
    profileName: contact.profileName,
    attributes: contact.attributes,
    optedOut: contact.optedOutAt !== null,
    optedOutAt: iso(contact.optedOutAt),
    optOutSource: contact.optOutSource,
    createdAt: contact.createdAt.toISOString(),
    updatedAt: contact.updatedAt.toISOString(),
  }
}

/** Contacts of the caller's organization, with opt-out and opt-in. */
export const contactRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const prisma = app.deps.prisma

  async function owned(organizationId: string, id: string): Promise<Contact> {
    const contact = await prisma.contact.findFirst({ where: { id, organizationId } })
    if (!contact) throw new NotFoundError('contact')
    return contact
  }

  const one = { params: IdParams, response: { 200: ContactView, ...errorResponses(...TENANT_ERRORS, 404) } }

  app.post(
    '/contacts',
    {
      preHandler: app.requireTenant('contacts:write'),
      schema: {
        tags: ['contacts'],
        summary: 'Create a contact (waId or bsuid)',
        body: CreateBody,
        response: { 201: ContactView, ...errorResponses(...TENANT_ERRORS, ...BODY_ERRORS, 409) },
      },
    },
    async (request, reply) => {
      const body = request.body
      if (!body.waId && !body.bsuid)
        throw new ValidationError('body.waId or body.bsuid is required', [
          { field: 'body.waId', message: 'or body.bsuid is required' },
        ])
      // A waId or bsuid the organization already has is a unique-key conflict: the error handler answers
      // 409 CONTACT_EXISTS naming the field.
      const contact = await prisma.contact.create({
        data: {
          organizationId: request.tenant.organizationId,
          waId: body.waId ?? null,
          bsuid: body.bsuid ?? null,
          profileName: body.profileName ?? null,
          attributes: (body.attributes ?? {}) as Prisma.InputJsonObject,
        },
      })
      return reply.status(201).send(contactView(contact))
    },
  )

  app.get(
    '/contacts',
    {
      preHandler: app.requireTenant('contacts:read'),
      schema: {
        tags: ['contacts'],
        summary: 'Contacts, newest first',
        querystring: ListQuery,
        response: { 200: pageOf(ContactView), ...errorResponses(...TENANT_ERRORS) },
      },
    },
    async (request) => {
      const query = request.query
      const page = keyset('createdAt', query)
      const rows = await prisma.contact.findMany({
        where: {
          organizationId: request.tenant.organizationId,
          ...(query.waId ? { waId: query.waId } : {}),
          ...(query.optedOut === undefined ? {} : { optedOutAt: query.optedOut ? { not: null } : null }),
          ...page.where,
        },
        orderBy: page.orderBy,
        take: page.take,
      })
      return toPage(rows, query, (row) => row.createdAt, contactView)
    },
  )

  app.get(
    '/contacts/:id',
    {
      preHandler: app.requireTenant('contacts:read'),
      schema: { tags: ['contacts'], summary: 'One contact', ...one },
    },
    async (request) => contactView(await owned(request.tenant.organizationId, request.params.id)),
  )

  app.patch(
    '/contacts/:id',
    {
      preHandler: app.requireTenant('contacts:write'),
      schema: {
        tags: ['contacts'],
        summary: 'Change the profile name or attributes',
        body: UpdateBody,
        params: IdParams,
        response: { 200: ContactView, ...errorResponses(...TENANT_ERRORS, ...BODY_ERRORS, 404) },
      },
    },
    async (request) => {
      const contact = await owned(request.tenant.organizationId, request.params.id)
      const body = request.body
      const updated = await prisma.contact.update({
        where: { id: contact.id },
        data: {
          ...(body.profileName === undefined ? {} : { profileName: body.profileName }),
          ...(body.attributes === undefined ? {} : { attributes: body.attributes as Prisma.InputJsonObject }),
        },
      })
      return contactView(updated)
    },
  )

  app.post(
    '/contacts/:id/opt-out',
    {
      preHandler: app.requireTenant('contacts:write'),
      schema: { tags: ['contacts'], summary: 'Opt the contact out of business-initiated messages', ...one },
    },
    async (request) => {
      const contact = await owned(request.tenant.organizationId, request.params.id)
      if (contact.optedOutAt) return contactView(contact)
      return contactView(
        await prisma.contact.update({
          where: { id: contact.id },
          data: { optedOutAt: new Date(), optOutSource: 'api' },
        }),
      )
    },
  )

  app.post(
    '/contacts/:id/opt-in',
    {
      preHandler: app.requireTenant('contacts:write'),
      schema: { tags: ['contacts'], summary: 'Clear an opt-out', ...one },
    },
    async (request) => {
      const contact = await owned(request.tenant.organizationId, request.params.id)
      return contactView(
        await prisma.contact.update({
          where: { id: contact.id },
          data: { optedOutAt: null, optOutSource: null },
        }),
      )
    },
  )
}
