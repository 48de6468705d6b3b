import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { type Static, Type } from '@sinclair/typebox'
import { encryptSecret } from '../crypto/secret-box.js'
import type { PhoneNumber } from '../generated/prisma/client.js'
import { BODY_ERRORS, errorResponses, NoContent, TENANT_ERRORS } from '../http/error-responses.js'
import { NotFoundError, UnprocessableError } from '../http/errors.js'
import { DateTime, IdParams } from '../http/schemas.js'
import { isAllowedGraphOverride } from '../messaging/graph-client.js'
import { keyset, PageQuery, pageOf, toPage } from '../pagination/cursor.js'

const Status = Type.Union([Type.Literal('ACTIVE'), Type.Literal('DISABLED'), Type.Literal('AUTH_INVALID')])
const MetaId = Type.String({ pattern: '^[0-9A-Za-z_-]{1,64}$' })
// Printable ASCII, as Meta's tokens are: it travels as an Authorization header value, which the HTTP client
// refuses with control characters (and a refused value used to wedge the client's connection pool).
const AccessToken = Type.String({
  minLength: 8,
  maxLength: 4096,
  pattern: '^[\\x21-\\x7E]+$',
  description: 'Stored encrypted, never returned',
})
const Mps = Type.Integer({ minimum: 1, maximum: 1000 })
const GraphBaseUrl = Type.String({
  minLength: 8,
  maxLength: 2048,
  description:
    "This number's Graph API base URL. Accepted only when it equals the deployment's SYNTHETIC_GRAPH_API_BASE_URL (staging's fake Graph API); refused everywhere else",
})

const PhoneNumberView = Type.Object({
  id: Type.String(),
  wabaId: Type.String(),
  phoneNumberId: Type.String({ description: "Meta's phone_number_id" }),
  displayPhoneNumber: Type.String(),
  verifiedName: Type.Union([Type.String(), Type.Null()]),
  qualityRating: Type.Union([Type.String(), Type.Null()]),
  status: Status,
  throughputMps: Type.Integer(),
  graphApiBaseUrl: Type.Union([Type.String(), Type.Null()]),
  createdAt: DateTime,
  updatedAt: DateTime,
})

const CreateBody = Type.Object(
  {
    wabaId: MetaId,
    phoneNumberId: MetaId,
    displayPhoneNumber: Type.String({ minLength: 3, maxLength: 32 }),
    accessToken: AccessToken,
    verifiedName: Type.Optional(Type.String({ maxLength: 200 })),
    throughputMps: Type.Optional(Mps),
    graphApiBaseUrl: Type.Optional(GraphBaseUrl),
  },
  { additionalProperties: false },
)

const UpdateBody = Type.Object(
  {
    displayPhoneNumber: Type.Optional(Type.String({ minLength: 3, maxLength: 32 })),
    accessToken: Type.Optional(AccessToken),
    verifiedName: Type.Optional(Type.String({ maxLength: 200 })),
    throughputMps: Type.Optional(Mps),
    status: Type.Optional(Type.Union([Type.Literal('ACTIVE'), Type.Literal('DISABLED')])),
    graphApiBaseUrl: Type.Optional(Type.Union([GraphBaseUrl, Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
)

function view(phone: PhoneNumber): Static<typeof PhoneNumberView> {
  return {
    id: phone.id,
    wabaId: phone.wabaId,
    phoneNumberId: phone.phoneNumberId,
    displayPhoneNumber: phone.displayPhoneNumber,
    verifiedName: phone.verifiedName,
    qualityRating: phone.qualityRating,
    status: phone.status,
    throughputMps: phone.throughputMps,
    graphApiBaseUrl: phone.graphApiBaseUrl,
    createdAt: phone.createdAt.toISOString(),
    updatedAt: phone.updatedAt.toISOString(),
  }
}

/** WhatsApp phone numbers of the caller's organization (Graph credentials encrypted at rest). */
export const phoneNumberRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const prisma = app.deps.prisma
  const key = app.config.encryptionKey

  /** A Graph base URL override is the synthetic Graph API's or nothing: real numbers talk to Meta only. */
  function checkGraphOverride(value: string | null | undefined): void {
    if (value === undefined || value === null) return
    if (isAllowedGraphOverride(value, app.config.syntheticGraphApiBaseUrl)) return
    throw new UnprocessableError(
      'GRAPH_BASE_URL_NOT_ALLOWED',
      app.config.syntheticGraphApiBaseUrl
        ? 'graphApiBaseUrl may only be the synthetic Graph API of this deployment (SYNTHETIC_GRAPH_API_BASE_URL)'
        : 'this deployment accepts no graphApiBaseUrl (SYNTHETIC_GRAPH_API_BASE_URL is not set)',
    )
  }

  async function owned(organizationId: string, id: string): Promise<PhoneNumber> {
    const phone = await prisma.phoneNumber.findFirst({ where: { id, organizationId, deletedAt: null } })
    if (!phone) throw new NotFoundError('phone number')
    return phone
  }

  app.post(
    '/phone-numbers',
    {
      preHandler: app.requireTenant('phone_numbers:write'),
      schema: {
        tags: ['phone-numbers'],
        summary: 'Register a phone number',
        body: CreateBody,
        response: { 201: PhoneNumberView, ...errorResponses(...TENANT_ERRORS, ...BODY_ERRORS, 409) },
      },
    },
    async (request, reply) => {
      const body = request.body
      const organizationId = request.tenant.organizationId
      checkGraphOverride(body.graphApiBaseUrl)
      const fields = {
        wabaId: body.wabaId,
        displayPhoneNumber: body.displayPhoneNumber,
        verifiedName: body.verifiedName ?? null,
        accessTokenEnc: encryptSecret(body.accessToken, key),
        throughputMps: body.throughputMps ?? 80,
        graphApiBaseUrl: body.graphApiBaseUrl ?? null,
        status: 'ACTIVE' as const,
        deletedAt: null,
      }
      const existing = await prisma.phoneNumber.findUnique({ where: { phoneNumberId: body.phoneNumberId } })
      // A number this organization deleted earlier is registered again in place (its history stays
      // linked). Any other stored number makes the insert a unique-key conflict, which the error handler
      // answers 409 PHONE_NUMBER_TAKEN naming phoneNumberId, as it does when two registrations race.
      const phone =
        existing?.organizationId === organizationId && existing.deletedAt !== null
          ? await prisma.phoneNumber.update({ where: { id: existing.id }, data: fields })
          : await prisma.phoneNumber.create({
              data: { organizationId, phoneNumberId: body.phoneNumberId, ...fields },
            })
      return reply.status(201).send(view(phone))
    },
  )

  app.get(
    '/phone-numbers',
    {
      preHandler: app.requireTenant('phone_numbers:read'),
      schema: {
        tags: ['phone-numbers'],
        summary: 'Phone numbers of the organization',
        querystring: PageQuery,
        response: { 200: pageOf(PhoneNumberView), ...errorResponses(...TENANT_ERRORS) },
      },
    },
    async (request) => {
      const query = request.query
      const page = keyset('createdAt', query)
      const rows = await prisma.phoneNumber.findMany({
        where: { organizationId: request.tenant.organizationId, deletedAt: null, ...page.where },
        orderBy: page.orderBy,
        take: page.take,
      })
      return toPage(rows, query, (row) => row.createdAt, view)
    },
  )

  app.get(
    '/phone-numbers/:id',
    {
      preHandler: app.requireTenant('phone_numbers:read'),
      schema: {
        tags: ['phone-numbers'],
        summary: 'One phone number',
        params: IdParams,
        response: { 200: PhoneNumberView, ...errorResponses(...TENANT_ERRORS, 404) },
      },
    },
    async (request) => view(await owned(request.tenant.organizationId, request.params.id)),
  )

  app.patch(
    '/phone-numbers/:id',
    {
      preHandler: app.requireTenant('phone_numbers:write'),
      schema: {
        tags: ['phone-numbers'],
        summary: 'Change throughput, status or credentials',
        params: IdParams,
        body: UpdateBody,
        response: { 200: PhoneNumberView, ...errorResponses(...TENANT_ERRORS, ...BODY_ERRORS, 404) },
      },
    },
    async (request) => {
      const phone = await owned(request.tenant.organizationId, request.params.id)
      const body = request.body
      checkGraphOverride(body.graphApiBaseUrl)
      const { accessToken, ...rest } = body
      const updated = await prisma.phoneNumber.update({
        where: { id: phone.id },
        // New credentials also clear AUTH_INVALID.
        data: {
          ...rest,
          ...(accessToken
            ? { accessTokenEnc: encryptSecret(accessToken, key), status: body.status ?? 'ACTIVE' }
            : {}),
        },
      })
      return view(updated)
    },
  )

  app.delete(
    '/phone-numbers/:id',
    {
      preHandler: app.requireTenant('phone_numbers:write'),
      schema: {
        tags: ['phone-numbers'],
        summary: 'Remove a phone number (its messages are kept)',
        params: IdParams,
        response: { 204: NoContent, ...errorResponses(...TENANT_ERRORS, 404) },
      },
    },
    async (request, reply) => {
      const phone = await owned(request.tenant.organizationId, request.params.id)
      await prisma.phoneNumber.update({
        where: { id: phone.id },
        data: { deletedAt: new Date(), status: 'DISABLED' },
      })
      return reply.status(204).send()
    },
  )
}
