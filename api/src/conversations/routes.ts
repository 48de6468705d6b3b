import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { type Static, Type } from '@sinclair/typebox'
import type { Contact, Conversation } from '../generated/prisma/client.js'
import { errorResponses, TENANT_ERRORS } from '../http/error-responses.js'
import { NotFoundError } from '../http/errors.js'
import { DateTime, IdParams, iso, NullableDateTime } from '../http/schemas.js'
import { MessageView, messageView, withPhoneNumber } from '../messages/view.js'
import { keyset, PageQuery, pageOf, toPage } from '../pagination/cursor.js'

/** Free-form messages are allowed until 24 h after the customer's last inbound message. */
export const SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000

const ConversationView = Type.Object({
  id: Type.String(),
  phoneNumberId: Type.String({ description: "Meta's phone_number_id" }),
  contact: Type.Object({
    id: Type.String(),
    waId: Type.Union([Type.String(), Type.Null()]),
    bsuid: Type.Union([Type.String(), Type.Null()]),
    profileName: Type.Union([Type.String(), Type.Null()]),
  }),
  lastInboundAt: NullableDateTime,
  lastMessageAt: DateTime,
  serviceWindowExpiresAt: Type.Union([DateTime, Type.Null()], {
    description: 'End of the 24-hour customer service window (null: never opened)',
  }),
  serviceWindowOpen: Type.Boolean(),
  createdAt: DateTime,
})

const ListQuery = Type.Intersect([
  PageQuery,
  Type.Object({
    phoneNumberId: Type.Optional(Type.String({ maxLength: 64, description: "Meta's phone_number_id" })),
  }),
])

type ConversationRow = Conversation & { contact: Contact; phoneNumber: { phoneNumberId: string } }

function view(row: ConversationRow, now = Date.now()): Static<typeof ConversationView> {
  const expires = row.lastInboundAt ? new Date(row.lastInboundAt.getTime() + SERVICE_WINDOW_MS) : null
  return {
    id: row.id,
    phoneNumberId: row.phoneNumber.phoneNumberId,
    contact: {
      id: row.contact.id,
      waId: row.contact.waId,
      bsuid: row.contact.bsuid,
      profileName: row.contact.profileName,
    },
    lastInboundAt: iso(row.lastInboundAt),
    lastMessageAt: row.lastMessageAt.toISOString(),
    serviceWindowExpiresAt: iso(expires),
    serviceWindowOpen: expires !== null && expires.getTime() > now,
    createdAt: row.createdAt.toISOString(),
  }
}

const include = { contact: true, phoneNumber: { select: { phoneNumberId: true } } } as const

/** Conversations (one per phone number and contact), most recent activity first, and their messages. */
export const conversationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const prisma = app.deps.prisma

  async function owned(organizationId: string, id: string): Promise<ConversationRow> {
    const row = await prisma.conversation.findFirst({ where: { id, organizationId }, include })
    if (!row) throw new NotFoundError('conversation')
    return row
  }

  app.get(
    '/conversations',
    {
      preHandler: app.requireTenant('conversations:read'),
      schema: {
        tags: ['conversations'],
        summary: 'Conversations by last activity',
        querystring: ListQuery,
        response: { 200: pageOf(ConversationView), ...errorResponses(...TENANT_ERRORS) },
      },
    },
    async (request) => {
      const query = request.query
      const page = keyset('lastMessageAt', query)
      const rows = await prisma.conversation.findMany({
        where: {
          organizationId: request.tenant.organizationId,
          ...(query.phoneNumberId ? { phoneNumber: { phoneNumberId: query.phoneNumberId } } : {}),
          ...page.where,
        },
        orderBy: page.orderBy,
        take: page.take,
        include,
      })
      const now = Date.now()
      return toPage(
        rows,
        query,
        (row) => row.lastMessageAt,
        (row) => view(row, now),
      )
    },
  )

  app.get(
    '/conversations/:id',
    {
      preHandler: app.requireTenant('conversations:read'),
      schema: {
        tags: ['conversations'],
        summary: 'One conversation',
        params: IdParams,
        response: { 200: ConversationView, ...errorResponses(...TENANT_ERRORS, 404) },
      },
    },
    async (request) => view(await owned(request.tenant.organizationId, request.params.id)),
  )

  app.get(
    '/conversations/:id/messages',
    {
      preHandler: app.requireTenant('messages:read'),
      schema: {
        tags: ['conversations'],
        summary: 'Messages of a conversation, newest first',
        params: IdParams,
        querystring: PageQuery,
        response: { 200: pageOf(MessageView), ...errorResponses(...TENANT_ERRORS, 404) },
      },
    },
    async (request) => {
      const conversation = await owned(request.tenant.organizationId, request.params.id)
      const query = request.query
      const page = keyset('createdAt', query)
      const rows = await prisma.message.findMany({
        where: {
          conversationId: conversation.id,
          organizationId: request.tenant.organizationId,
          ...page.where,
        },
        orderBy: page.orderBy,
        take: page.take,
        include: withPhoneNumber,
      })
      return toPage(rows, query, (row) => row.createdAt, messageView)
    },
  )
}
