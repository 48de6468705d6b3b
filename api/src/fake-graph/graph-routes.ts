import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { defaultHttpStatus, metaErrorBody, webhookError } from './meta-errors.js'
import type { FakeGraphState } from './state.js'

const MessageTypes = [
  'text',
  'template',
  'image',
  'document',
  'audio',
  'video',
  'sticker',
  'location',
  'contacts',
  'interactive',
  'reaction',
]

const SendParams = Type.Object({ version: Type.String(), phoneNumberId: Type.String() })
const SendBody = Type.Record(Type.String(), Type.Unknown())
const ObjectParams = Type.Object({ version: Type.String(), objectId: Type.String() })
const TemplatesQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  after: Type.Optional(Type.String()),
  status: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
})
const CreateTemplateBody = Type.Object({
  name: Type.String({ minLength: 1 }),
  language: Type.String({ minLength: 1 }),
  category: Type.String(),
  components: Type.Optional(Type.Array(Type.Unknown())),
})

export interface GraphRouteOptions {
  state: FakeGraphState
  /** Accepted Bearer token; any non-empty Bearer token when absent. */
  accessToken?: string
}

/** The Graph endpoints the service calls, answering like Meta (docs/whatsapp-cloud-api.md §1.4, §3.9). */
export const graphRoutes: FastifyPluginAsyncTypebox<GraphRouteOptions> = async (app, options) => {
  const { state } = options

  const fail = (reply: FastifyReply, code: number, details?: string, httpStatus?: number) =>
    reply.code(httpStatus ?? defaultHttpStatus(code)).send(metaErrorBody(code, state.ids.next('A'), details))

  const authorized = (request: FastifyRequest): boolean => {
    const header = request.headers.authorization ?? ''
    if (!header.startsWith('Bearer ') || header.length <= 'Bearer '.length) return false
    return options.accessToken === undefined || header === `Bearer ${options.accessToken}`
  }

  // Meta sends marketing messages (MM API) through its own endpoint, answered like /messages.
  for (const url of ['/:version/:phoneNumberId/messages', '/:version/:phoneNumberId/marketing_messages'])
    app.post(url, { schema: { params: SendParams, body: SendBody } }, async (request, reply) => {
      const { phoneNumberId } = request.params
      const body = request.body ?? {}
      const to =
        typeof body.to === 'string' ? body.to : typeof body.recipient === 'string' ? body.recipient : ''
      const type = typeof body.type === 'string' ? body.type : 'text'
      const callbackData =
        typeof body.biz_opaque_callback_data === 'string' ? body.biz_opaque_callback_data : undefined
      const base = {
        at: Date.now(),
        method: 'POST',
        path: request.url,
        phoneNumberId,
        to,
        type,
        callbackData,
        body,
      }

      const fault = state.faults.take({ method: 'POST', path: request.url, phoneNumberId, to })
      if (fault?.latencyMs) await sleep(fault.latencyMs)

      if (!authorized(request)) {
        state.requests.record({ ...base, httpStatus: 401, errorCode: 190 })
        return fail(reply, 190, 'Invalid OAuth access token')
      }

      if (fault?.dropConnectionAfterRequest) {
        const wamid = fault.accepted === false ? undefined : state.ids.next('wamid.')
        state.requests.record({ ...base, httpStatus: 0, dropped: true, ...(wamid ? { wamid } : {}) })
        if (wamid) state.scheduleStatuses(phoneNumberId, wamid, to, callbackData)
        reply.hijack()
        request.raw.socket.destroy()
        return
      }

      if (fault?.response) {
        const code = fault.response.code ?? 131000
        const httpStatus = fault.response.httpStatus ?? defaultHttpStatus(code)
        state.requests.record({ ...base, httpStatus, errorCode: code })
        return reply
          .code(httpStatus)
          .send(metaErrorBody(code, state.ids.next('A'), fault.response.details, fault.response.subcode))
      }

      const invalid = validateSend(body, to, type)
      if (invalid) {
        state.requests.record({ ...base, httpStatus: 400, errorCode: invalid.code })
        return fail(reply, invalid.code, invalid.details)
      }

      const throttled = state.limits.check(phoneNumberId, to, Date.now())
      if (throttled) {
        state.requests.record({ ...base, httpStatus: defaultHttpStatus(throttled), errorCode: throttled })
        return fail(reply, throttled)
      }

      if (type === 'template' && state.options.enforceTemplates) {
        const template = body.template as { name?: string; language?: { code?: string } }
        const found = state.findTemplate(
          state.phone(phoneNumberId).wabaId,
          String(template.name),
          String(template.language?.code ?? ''),
        )
        const code =
          !found || !['APPROVED', 'PAUSED', 'DISABLED'].includes(found.status)
            ? 132001
            : found.status === 'PAUSED'
              ? 132015
              : found.status === 'DISABLED'
                ? 132016
                : undefined
        if (code) {
          state.requests.record({ ...base, httpStatus: 400, errorCode: code })
          return fail(reply, code)
        }
      }

      const wamid = state.ids.next('wamid.')
      state.requests.record({ ...base, httpStatus: 200, wamid })
      const outsideWindow =
        type !== 'template' && state.options.enforceServiceWindow && !state.windowOpen(phoneNumberId, to)
      if (fault?.asyncFailure) {
        const { code, details } = fault.asyncFailure
        state.scheduleFailure(phoneNumberId, wamid, to, webhookError(code, details), callbackData)
      } else if (outsideWindow) {
        // Meta accepts the request and reports the closed window afterwards, in a failed status.
        state.scheduleFailure(phoneNumberId, wamid, to, webhookError(131047), callbackData)
      } else {
        state.scheduleStatuses(phoneNumberId, wamid, to, callbackData)
      }
      return reply.send({
        messaging_product: 'whatsapp',
        contacts: [{ input: to, wa_id: to.replace(/^\+/, '') }],
        messages: [{ id: wamid, ...(type === 'template' ? { message_status: 'accepted' } : {}) }],
      })
    })

  app.get('/:version/:objectId', { schema: { params: ObjectParams } }, async (request, reply) => {
    const { objectId } = request.params
    const fault = state.faults.take({ method: 'GET', path: request.url, phoneNumberId: objectId })
    if (fault?.latencyMs) await sleep(fault.latencyMs)
    const record = (httpStatus: number, errorCode?: number) =>
      state.requests.record({
        at: Date.now(),
        method: 'GET',
        path: request.url,
        phoneNumberId: objectId,
        httpStatus,
        ...(errorCode ? { errorCode } : {}),
      })
    if (!authorized(request)) {
      record(401, 190)
      return fail(reply, 190, 'Invalid OAuth access token')
    }
    if (fault?.response) {
      const code = fault.response.code ?? 100
      record(fault.response.httpStatus ?? defaultHttpStatus(code), code)
      return fail(reply, code, fault.response.details, fault.response.httpStatus)
    }
    record(200)
    const phone = state.phone(objectId)
    return {
      id: phone.phoneNumberId,
      display_phone_number: phone.displayPhoneNumber,
      verified_name: phone.verifiedName,
      quality_rating: phone.qualityRating,
      code_verification_status: 'VERIFIED',
      platform_type: 'CLOUD_API',
      throughput: { level: phone.throughputLevel },
    }
  })

  app.get(
    '/:version/:objectId/message_templates',
    { schema: { params: ObjectParams, querystring: TemplatesQuery } },
    async (request, reply) => {
      const { version, objectId: wabaId } = request.params
      const query = request.query
      state.requests.record({ at: Date.now(), method: 'GET', path: request.url, httpStatus: 200 })
      const fault = state.faults.take({ method: 'GET', path: request.url })
      if (fault?.latencyMs) await sleep(fault.latencyMs)
      if (!authorized(request)) return fail(reply, 190, 'Invalid OAuth access token')
      const all = state
        .listTemplates(wabaId)
        .filter((t) => (query.status ? t.status === query.status : true))
        .filter((t) => (query.name ? t.name.includes(query.name) : true))
      const limit = query.limit ?? 25
      const start = query.after ? Number(Buffer.from(query.after, 'base64url').toString()) : 0
      const page = all.slice(start, start + limit)
      const cursor = (index: number) => Buffer.from(String(index)).toString('base64url')
      const after = cursor(start + page.length)
      const hasMore = start + page.length < all.length
      const next = new URL(`${request.protocol}://${request.host}/${version}/${wabaId}/message_templates`)
      next.searchParams.set('limit', String(limit))
      next.searchParams.set('after', after)
      return {
        data: page.map((t) => ({
          id: t.id,
          name: t.name,
          language: t.language,
          status: t.status,
          category: t.category,
          components: t.components,
          ...(t.rejectedReason ? { rejected_reason: t.rejectedReason } : {}),
        })),
        paging: { cursors: { before: cursor(start), after }, ...(hasMore ? { next: next.toString() } : {}) },
      }
    },
  )

  app.post(
    '/:version/:objectId/message_templates',
    { schema: { params: ObjectParams, body: CreateTemplateBody } },
    async (request, reply) => {
      const { objectId: wabaId } = request.params
      const body = request.body
      state.requests.record({ at: Date.now(), method: 'POST', path: request.url, httpStatus: 200, body })
      if (!authorized(request)) return fail(reply, 190, 'Invalid OAuth access token')
      const created = state.upsertTemplate(wabaId, { ...body, status: 'PENDING' })
      return { id: created.id, status: created.status, category: created.category }
    },
  )
}

/** Meta's request validation, to the extent the service can get it wrong. */
function validateSend(
  body: Record<string, unknown>,
  to: string,
  type: string,
): { code: number; details: string } | undefined {
  if (body.messaging_product !== 'whatsapp')
    return { code: 100, details: 'The parameter messaging_product is required.' }
  if (!to) return { code: 100, details: 'The parameter to is required.' }
  if (!MessageTypes.includes(type)) return { code: 100, details: `Unsupported message type ${type}.` }
  const content = body[type] as Record<string, unknown> | undefined
  if (!content || typeof content !== 'object')
    return { code: 131008, details: `Parameter ${type} is missing.` }
  if (type === 'text' && (typeof content.body !== 'string' || content.body.length === 0))
    return { code: 131008, details: 'Parameter text.body is missing.' }
  if (type === 'text' && (content.body as string).length > 4096)
    return { code: 100, details: 'Parameter text.body is too long.' }
  if (type === 'template') {
    const language = content.language as { code?: unknown } | undefined
    if (typeof content.name !== 'string' || typeof language?.code !== 'string')
      return { code: 131008, details: 'Parameters template.name and template.language.code are required.' }
  }
  if (['image', 'document', 'audio', 'video', 'sticker'].includes(type) && !content.link && !content.id)
    return { code: 131008, details: `Parameter ${type}.link or ${type}.id is required.` }
  return undefined
}
