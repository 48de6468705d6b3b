import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses, TENANT_ERRORS } from '../http/error-responses.js'
import { AppError, NotFoundError, ServiceUnavailableError } from '../http/errors.js'
import { GraphClient, GraphRequestError } from './graph-client.js'
import { messagingSettings } from './messaging-settings.js'
import { syncTemplates, TemplateSyncDeadlineError } from './template-sync.js'

const TemplateView = Type.Object({
  id: Type.String(),
  wabaId: Type.String(),
  metaTemplateId: Type.Union([Type.String(), Type.Null()]),
  name: Type.String(),
  language: Type.String(),
  category: Type.String(),
  status: Type.String(),
  components: Type.Unknown(),
  rejectedReason: Type.Union([Type.String(), Type.Null()]),
  syncedAt: Type.String({ format: 'date-time' }),
})

const ListQuery = Type.Object({
  phoneNumberId: Type.Optional(
    Type.String({ description: "Meta's phone_number_id: that number's WABA only" }),
  ),
  status: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
})

/** GET /api/v1/templates and POST /api/v1/templates/sync. */
export const templateRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const settings = messagingSettings(app.config)
  const graph = new GraphClient({
    baseUrl: app.config.graphApiBaseUrl,
    syntheticBaseUrl: app.config.syntheticGraphApiBaseUrl,
    version: app.config.graphApiVersion,
    timeoutMs: settings.graphTimeoutMs,
    connections: 4,
  })
  app.addHook('onClose', async () => graph.close())

  app.get(
    '/templates',
    {
      preHandler: app.requireTenant('templates:read'),
      schema: {
        tags: ['templates'],
        querystring: ListQuery,
        response: {
          200: Type.Object({ data: Type.Array(TemplateView) }),
          ...errorResponses(...TENANT_ERRORS, 404),
        },
      },
    },
    async (request) => {
      const query = request.query
      const { organizationId } = request.tenant
      let wabaId: string | undefined
      if (query.phoneNumberId) {
        const phone = await app.deps.prisma.phoneNumber.findFirst({
          where: { organizationId, phoneNumberId: query.phoneNumberId, deletedAt: null },
          select: { wabaId: true },
        })
        if (!phone) throw new NotFoundError('phone number')
        wabaId = phone.wabaId
      }
      const rows = await app.deps.prisma.template.findMany({
        where: {
          organizationId,
          ...(wabaId ? { wabaId } : {}),
          ...(query.status ? { status: query.status.toUpperCase() } : {}),
          ...(query.name ? { name: query.name } : {}),
        },
        orderBy: [{ name: 'asc' }, { language: 'asc' }],
        take: query.limit ?? 100,
      })
      return { data: rows.map((r) => ({ ...r, syncedAt: r.syncedAt.toISOString() })) }
    },
  )

  app.post(
    '/templates/sync',
    {
      preHandler: app.requireTenant('templates:write'),
      schema: {
        tags: ['templates'],
        summary: "Pulls the templates of every WABA of the caller's numbers from the Graph API",
        response: {
          200: Type.Object({
            data: Type.Array(Type.Object({ wabaId: Type.String(), templates: Type.Integer() })),
          }),
          ...errorResponses(...TENANT_ERRORS, 504),
        },
      },
    },
    async (request) => {
      try {
        return {
          data: await syncTemplates(
            app.deps.prisma,
            graph,
            app.config.encryptionKey,
            request.tenant.organizationId,
            settings.templateSyncDeadlineMs,
          ),
        }
      } catch (error) {
        if (error instanceof TemplateSyncDeadlineError)
          throw new AppError(504, 'TEMPLATE_SYNC_DEADLINE', error.message, {
            synced: error.synced,
            notSynced: error.pending,
          })
        if (error instanceof GraphRequestError)
          throw new ServiceUnavailableError(`Graph API refused the template list: ${error.message}`)
        throw error
      }
    },
  )
}
