import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { type Static, Type } from '@sinclair/typebox'
import type { Prisma } from '../generated/prisma/client.js'
import { errorResponses, TENANT_ERRORS } from '../http/error-responses.js'
import { NotFoundError } from '../http/errors.js'
import { IdParams, LiteralUnion } from '../http/schemas.js'
import { keyset, PageQuery, pageOf, toPage } from '../pagination/cursor.js'
import { API_MESSAGE_STATUSES, MessageView, messageView, withPhoneNumber } from './view.js'

const ListQuery = Type.Intersect([
  PageQuery,
  Type.Object({
    conversationId: Type.Optional(Type.String({ maxLength: 64 })),
    status: Type.Optional(LiteralUnion(API_MESSAGE_STATUSES)),
    direction: Type.Optional(Type.Union([Type.Literal('inbound'), Type.Literal('outbound')])),
    phoneNumberId: Type.Optional(Type.String({ maxLength: 64, description: "Meta's phone_number_id" })),
  }),
])
type ListQuery = Static<typeof ListQuery>

/** Filters of a message list, always inside the caller's organization. */
export function messageFilter(
  organizationId: string,
  query: Omit<ListQuery, 'limit' | 'cursor'>,
): Prisma.MessageWhereInput {
  return {
    organizationId,
    ...(query.conversationId ? { conversationId: query.conversationId } : {}),
    ...(query.status ? { status: query.status.toUpperCase() as Prisma.MessageWhereInput['status'] } : {}),
    ...(query.direction ? { direction: query.direction === 'inbound' ? 'INBOUND' : 'OUTBOUND' } : {}),
    ...(query.phoneNumberId ? { phoneNumber: { phoneNumberId: query.phoneNumberId } } : {}),
  }
}

/** Reading messages (sending is POST /api/v1/messages, part of the messaging engine). */
export const messageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const prisma = app.deps.prisma

  app.get(
    '/messages',
    {
      preHandler: app.requireTenant('messages:read'),
      schema: {
        tags: ['messages'],
        summary: 'Messages, newest first, with filters',
        querystring: ListQuery,
        response: { 200: pageOf(MessageView), ...errorResponses(...TENANT_ERRORS) },
      },
    },
    async (request) => {
      const query = request.query
      const page = keyset('createdAt', query)
      const rows = await prisma.message.findMany({
        where: { ...messageFilter(request.tenant.organizationId, query), ...page.where },
        orderBy: page.orderBy,
        take: page.take,
        include: withPhoneNumber,
      })
      return toPage(rows, query, (row) => row.createdAt, messageView)
    },
  )

  app.get(
    '/messages/:id',
    {
      preHandler: app.requireTenant('messages:read'),
      schema: {
        tags: ['messages'],
        summary: 'One message: status and wamid',
        params: IdParams,
        response: { 200: MessageView, ...errorResponses(...TENANT_ERRORS, 404) },
      },
    },
    async (request) => {
      const { id } = request.params
      const message = await prisma.message.findFirst({
        where: { id, organizationId: request.tenant.organizationId },
        include: withPhoneNumber,
      })
      if (!message) throw new NotFoundError('message')
      return messageView(message)
    },
  )
}
