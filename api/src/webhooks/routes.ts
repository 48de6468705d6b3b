import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { constantTimeEqual } from '../crypto/digest.js'
import { ANY_ROUTE_ERRORS, BODY_ERRORS, errorResponses } from '../http/error-responses.js'
import { UnauthorizedError, ValidationError } from '../http/errors.js'
import { JsonTooDeepError, jsonNestsDeeperThan, MAX_JSON_DEPTH } from '../http/input-guard.js'
import { isValidMetaSignature } from './signature.js'

const HandshakeQuery = Type.Object({
  'hub.mode': Type.Optional(Type.String()),
  'hub.verify_token': Type.Optional(Type.String()),
  'hub.challenge': Type.Optional(Type.String({ maxLength: 512 })),
})

const Ack = Type.Object({
  status: Type.Union([Type.Literal('queued'), Type.Literal('duplicate'), Type.Literal('quarantined')]),
})

/** Meta's WhatsApp webhooks: the verification handshake and signed event deliveries. */
export const metaWebhookRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // During a rotation of the app secret (META_APP_SECRET_PREVIOUS set) a delivery signed with either is
  // valid: Meta's retries of deliveries signed before the switch keep being accepted, so nothing is lost.
  const appSecrets = [app.config.metaAppSecret, app.config.metaAppSecretPrevious].filter(
    (secret): secret is string => secret !== undefined,
  )
  // Signatures cover the exact bytes Meta sent, so this plugin (and only this one) keeps JSON bodies
  // as Buffers; re-serialising parsed JSON would change \u escapes and break every non-ASCII message.
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: 3 * 1024 * 1024 },
    (_request, body, done) => done(null, body),
  )

  app.get(
    '/whatsapp',
    {
      schema: {
        tags: ['meta'],
        summary: "Meta's verification handshake: echoes hub.challenge when hub.verify_token matches",
        querystring: HandshakeQuery,
        response: {
          200: {
            description: 'hub.challenge, echoed',
            content: { 'text/plain': { schema: Type.String() } },
          },
          ...errorResponses(...ANY_ROUTE_ERRORS, 403),
        },
      },
    },
    async (request, reply) => {
      const query = request.query
      const token = query['hub.verify_token']
      const challenge = query['hub.challenge']
      const valid =
        query['hub.mode'] === 'subscribe' &&
        typeof token === 'string' &&
        typeof challenge === 'string' &&
        constantTimeEqual(token, app.config.metaVerifyToken)
      if (!valid) {
        return reply
          .status(403)
          .send({ error: { code: 'FORBIDDEN', message: 'verification failed', details: null } })
      }
      return reply.status(200).type('text/plain; charset=utf-8').send(challenge)
    },
  )

  app.post(
    '/whatsapp',
    {
      bodyLimit: 3 * 1024 * 1024,
      schema: {
        tags: ['meta'],
        summary: 'Signed event delivery from Meta (X-Hub-Signature-256 over the raw body)',
        response: { 200: Ack, ...errorResponses(...ANY_ROUTE_ERRORS, ...BODY_ERRORS, 401) },
      },
    },
    async (request) => {
      const raw = request.body
      if (!Buffer.isBuffer(raw)) throw new ValidationError('body must be application/json')
      const header = request.headers['x-hub-signature-256']
      const signature = typeof header === 'string' ? header : undefined
      if (!appSecrets.some((secret) => isValidMetaSignature(raw, signature, secret)))
        throw new UnauthorizedError('missing or invalid X-Hub-Signature-256')
      if (jsonNestsDeeperThan(raw, MAX_JSON_DEPTH)) throw new JsonTooDeepError()
      const json = raw.toString('utf8')
      let parsed: unknown
      try {
        parsed = JSON.parse(json)
      } catch {
        throw new ValidationError('body is not valid JSON')
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new ValidationError('body must be a JSON object')
      const status = await app.deps.webhookIngestor.ingest(raw, json)
      return { status }
    },
  )
}
