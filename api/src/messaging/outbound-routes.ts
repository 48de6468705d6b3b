import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { DEFAULT_DEPENDENCY_WAIT_MS } from '../db/dependency-outage.js'
import { BODY_ERRORS, errorResponses, TENANT_ERRORS } from '../http/error-responses.js'
import { OUTBOUND_QUEUE } from './outbound-queue.js'
import { IdempotencyHeaders, SendMessageAccepted, SendMessageBody } from './outbound-request.js'
import { OutboundAcceptor } from './outbound-service.js'

/**
 * POST /api/v1/messages: validates, stores QUEUED, enqueues (the requests of one event-loop turn
 * together); 202, or 200 for an idempotent replay.
 */
export const outboundRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const outboundQueue = app.deps.queues.get(OUTBOUND_QUEUE)
  if (!outboundQueue) throw new Error(`queue ${OUTBOUND_QUEUE} is not configured`)
  const acceptor = new OutboundAcceptor(
    app.deps.sql,
    outboundQueue,
    undefined,
    undefined,
    app.config.dependencyWaitMs ?? DEFAULT_DEPENDENCY_WAIT_MS,
  )

  app.post(
    '/messages',
    {
      preHandler: app.requireTenant('messages:write'),
      schema: {
        tags: ['messages'],
        summary: 'Send a WhatsApp message (text, template, or media by link or id)',
        headers: IdempotencyHeaders,
        body: SendMessageBody,
        response: {
          200: SendMessageAccepted,
          202: SendMessageAccepted,
          ...errorResponses(...TENANT_ERRORS, ...BODY_ERRORS, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key']
      const result = await acceptor.accept(
        request.tenant.organizationId,
        request.body,
        typeof key === 'string' ? key : undefined,
      )
      return reply.code(result.replay ? 200 : 202).send({ id: result.id, status: result.status })
    },
  )
}
