import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { encryptSecret } from '../crypto/secret-box.js'
import { BODY_ERRORS, errorResponses, NoContent, TENANT_ERRORS } from '../http/error-responses.js'
import { ConflictError, NotFoundError, UnprocessableError } from '../http/errors.js'
import { LiteralUnion } from '../http/schemas.js'
import { DELIVER_JOB, deliverJobOptions, WEBHOOK_DELIVERY_QUEUE } from './customer-webhook-queue.js'
import { newEndpointSecret } from './customer-webhook-signing.js'
import { messagingSettings, webhookUrlPolicy } from './messaging-settings.js'
import { checkWebhookUrl, systemResolver, WebhookUrlRefused } from './webhook-url-policy.js'

export const CUSTOMER_EVENT_TYPES = ['message.received', 'message.status'] as const

const EventType = LiteralUnion(CUSTOMER_EVENT_TYPES)
// Only the shape here; what the URL may point at is checked by webhook-url-policy.ts (422 with the reason).
const Url = Type.String({ pattern: '^https?://', maxLength: 2048 })
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])

const EndpointView = Type.Object({
  id: Type.String(),
  url: Type.String(),
  description: Nullable(Type.String()),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  consecutiveFailures: Type.Integer(),
  disabledAt: Nullable(Type.String({ format: 'date-time' })),
  disabledReason: Nullable(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
})
const CreatedEndpoint = Type.Intersect([
  EndpointView,
  Type.Object({ secret: Type.String({ description: 'whsec_… signing secret, shown only once' }) }),
])
const AttemptView = Type.Object({
  attempt: Type.Integer(),
  statusCode: Type.Union([Type.Integer(), Type.Null()]),
  error: Nullable(Type.String()),
  durationMs: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
})
const DeliveryView = Type.Object({
  id: Type.String(),
  eventId: Type.String(),
  eventType: Type.String(),
  status: Type.String(),
  attempts: Type.Integer(),
  lastStatusCode: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Nullable(Type.String()),
  nextAttemptAt: Nullable(Type.String({ format: 'date-time' })),
  deliveredAt: Nullable(Type.String({ format: 'date-time' })),
  createdAt: Type.String({ format: 'date-time' }),
  attemptLog: Type.Array(AttemptView),
})
const IdParams = Type.Object({ id: Type.String() })
const DeliveryParams = Type.Object({ id: Type.String(), deliveryId: Type.String() })
const CreateBody = Type.Object(
  {
    url: Url,
    events: Type.Array(EventType, { minItems: 1, uniqueItems: true }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
)
const UpdateBody = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Type.Array(EventType, { minItems: 1, uniqueItems: true })),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    enabled: Type.Optional(
      Type.Boolean({
        description: 'true re-enables a disabled endpoint: it receives the events that occur from then on',
      }),
    ),
  },
  { additionalProperties: false },
)
const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
})

interface EndpointRow {
  id: string
  url: string
  description: string | null
  events: string[]
  enabled: boolean
  consecutiveFailures: number
  disabledAt: Date | null
  disabledReason: string | null
  createdAt: Date
}

const view = (e: EndpointRow) => ({
  id: e.id,
  url: e.url,
  description: e.description,
  events: e.events,
  enabled: e.enabled,
  consecutiveFailures: e.consecutiveFailures,
  disabledAt: e.disabledAt?.toISOString() ?? null,
  disabledReason: e.disabledReason,
  createdAt: e.createdAt.toISOString(),
})

/** CRUD of customer webhook endpoints, their delivery log, and manual redelivery. */
export const webhookEndpointRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { prisma } = app.deps
  const settings = messagingSettings(app.config)
  const policy = webhookUrlPolicy(settings)
  const resolveHost = app.deps.resolveHost ?? systemResolver

  /** 422 WEBHOOK_URL_NOT_ALLOWED naming the reason, before anything is stored. */
  async function assertAllowed(url: string): Promise<void> {
    try {
      await checkWebhookUrl(url, policy, resolveHost)
    } catch (error) {
      if (!(error instanceof WebhookUrlRefused)) throw error
      throw new UnprocessableError('WEBHOOK_URL_NOT_ALLOWED', `url refused: ${error.message}`, {
        reason: error.reason,
      })
    }
  }
  const queue = app.deps.queues.get(WEBHOOK_DELIVERY_QUEUE)
  if (!queue) throw new Error(`queue ${WEBHOOK_DELIVERY_QUEUE} is not configured`)
  const read = { preHandler: app.requireTenant('webhooks:read') }
  const write = { preHandler: app.requireTenant('webhooks:write') }
  const tags = ['webhook-endpoints']

  async function owned(organizationId: string, id: string) {
    const endpoint = await prisma.webhookEndpoint.findFirst({ where: { id, organizationId } })
    if (!endpoint) throw new NotFoundError('webhook endpoint')
    return endpoint
  }

  app.post(
    '/webhook-endpoints',
    {
      ...write,
      schema: {
        tags,
        body: CreateBody,
        response: { 201: CreatedEndpoint, ...errorResponses(...TENANT_ERRORS, ...BODY_ERRORS) },
      },
    },
    async (request, reply) => {
      const body = request.body
      await assertAllowed(body.url)
      const secret = newEndpointSecret()
      const endpoint = await prisma.webhookEndpoint.create({
        data: {
          organizationId: request.tenant.organizationId,
          url: body.url,
          description: body.description ?? null,
          events: body.events,
          secretEnc: encryptSecret(secret, app.config.encryptionKey),
        },
      })
      return reply.code(201).send({ ...view(endpoint), secret })
    },
  )

  app.get(
    '/webhook-endpoints',
    {
      ...read,
      schema: {
        tags,
        response: {
          200: Type.Object({ data: Type.Array(EndpointView) }),
          ...errorResponses(...TENANT_ERRORS),
        },
      },
    },
    async (request) => {
      const rows = await prisma.webhookEndpoint.findMany({
        where: { organizationId: request.tenant.organizationId },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        take: 200,
      })
      return { data: rows.map(view) }
    },
  )

  app.get(
    '/webhook-endpoints/:id',
    {
      ...read,
      schema: {
        tags,
        params: IdParams,
        response: { 200: EndpointView, ...errorResponses(...TENANT_ERRORS, 404) },
      },
    },
    async (request) => view(await owned(request.tenant.organizationId, request.params.id)),
  )

  app.patch(
    '/webhook-endpoints/:id',
    {
      ...write,
      schema: {
        tags,
        params: IdParams,
        body: UpdateBody,
        response: { 200: EndpointView, ...errorResponses(...TENANT_ERRORS, ...BODY_ERRORS, 404) },
      },
    },
    async (request) => {
      const endpoint = await owned(request.tenant.organizationId, request.params.id)
      const body = request.body
      if (body.url !== undefined) await assertAllowed(body.url)
      const updated = await prisma.webhookEndpoint.update({
        where: { id: endpoint.id },
        data: {
          ...(body.url === undefined ? {} : { url: body.url }),
          ...(body.events === undefined ? {} : { events: body.events }),
          ...(body.description === undefined ? {} : { description: body.description }),
          ...(body.enabled === true
            ? { enabled: true, consecutiveFailures: 0, disabledAt: null, disabledReason: null }
            : {}),
          // Only a disabled endpoint starts a new enabled period; an enabled one keeps its own.
          ...(body.enabled === true && !endpoint.enabled ? { enabledAt: new Date() } : {}),
          ...(body.enabled === false
            ? { enabled: false, disabledAt: new Date(), disabledReason: 'disabled through the API' }
            : {}),
        },
      })
      return view(updated)
    },
  )

  app.delete(
    '/webhook-endpoints/:id',
    {
      ...write,
      schema: {
        tags,
        params: IdParams,
        response: { 204: NoContent, ...errorResponses(...TENANT_ERRORS, 404) },
      },
    },
    async (request, reply) => {
      const endpoint = await owned(request.tenant.organizationId, request.params.id)
      await prisma.$transaction([
        prisma.webhookDelivery.deleteMany({ where: { endpointId: endpoint.id } }),
        prisma.webhookEndpoint.delete({ where: { id: endpoint.id } }),
      ])
      return reply.code(204).send()
    },
  )

  app.get(
    '/webhook-endpoints/:id/deliveries',
    {
      ...read,
      schema: {
        tags,
        params: IdParams,
        querystring: ListQuery,
        response: {
          200: Type.Object({ data: Type.Array(DeliveryView) }),
          ...errorResponses(...TENANT_ERRORS, 404),
        },
      },
    },
    async (request) => {
      const endpoint = await owned(request.tenant.organizationId, request.params.id)
      const rows = await prisma.webhookDelivery.findMany({
        where: { endpointId: endpoint.id },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: request.query.limit ?? 50,
        include: { attemptLog: { orderBy: { createdAt: 'asc' } } },
      })
      return {
        data: rows.map((d) => ({
          id: d.id,
          eventId: d.eventId,
          eventType: d.eventType,
          status: d.status.toLowerCase(),
          attempts: d.attempts,
          lastStatusCode: d.lastStatusCode,
          lastError: d.lastError,
          nextAttemptAt: d.nextAttemptAt?.toISOString() ?? null,
          deliveredAt: d.deliveredAt?.toISOString() ?? null,
          createdAt: d.createdAt.toISOString(),
          attemptLog: d.attemptLog.map((a) => ({
            attempt: a.attempt,
            statusCode: a.statusCode,
            error: a.error,
            durationMs: a.durationMs,
            at: a.createdAt.toISOString(),
          })),
        })),
      }
    },
  )

  app.post(
    '/webhook-endpoints/:id/deliveries/:deliveryId/retry',
    {
      ...write,
      schema: {
        tags,
        summary: 'Delivers the event again (same webhook-id)',
        params: DeliveryParams,
        response: {
          202: Type.Object({ id: Type.String(), status: Type.String() }),
          ...errorResponses(...TENANT_ERRORS, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const params = request.params
      const endpoint = await owned(request.tenant.organizationId, params.id)
      if (!endpoint.enabled)
        throw new ConflictError(
          'ENDPOINT_DISABLED',
          'the endpoint is disabled: enable it first (PATCH enabled:true)',
        )
      const delivery = await prisma.webhookDelivery.findFirst({
        where: { id: params.deliveryId, endpointId: endpoint.id },
      })
      if (!delivery) throw new NotFoundError('delivery')
      await prisma.webhookDelivery.update({
        where: { id: delivery.id },
        data: { status: 'PENDING', nextAttemptAt: new Date() },
      })
      // A new job id per redelivery: the first job may still be kept in the failed set.
      await queue.add(
        DELIVER_JOB,
        { deliveryId: delivery.id },
        {
          ...deliverJobOptions(settings.customerWebhookMaxAttempts, settings.customerWebhookRetryBaseMs),
          jobId: `${delivery.id}-redelivery-${delivery.attempts}`,
        },
      )
      return reply.code(202).send({ id: delivery.id, status: 'pending' })
    },
  )
}
