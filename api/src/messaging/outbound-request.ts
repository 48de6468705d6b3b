import { createHash } from 'node:crypto'
import { type Static, Type } from '@sinclair/typebox'

// The body of POST /api/v1/messages: Meta's own send shape plus our `phoneNumberId` (docs/design.md).
const Recipient = Type.String({ pattern: '^\\+?[1-9][0-9]{5,14}$', description: 'E.164 number, + optional' })
const PhoneNumberId = Type.String({ minLength: 1, maxLength: 64, description: "Meta's phone_number_id" })

const TextSend = Type.Object(
  {
    phoneNumberId: PhoneNumberId,
    to: Recipient,
    type: Type.Literal('text'),
    text: Type.Object(
      { body: Type.String({ minLength: 1, maxLength: 4096 }), preview_url: Type.Optional(Type.Boolean()) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)

const TemplateSend = Type.Object(
  {
    phoneNumberId: PhoneNumberId,
    to: Recipient,
    type: Type.Literal('template'),
    template: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 512 }),
        language: Type.Object({ code: Type.String({ minLength: 2, maxLength: 16 }) }),
        components: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()), { maxItems: 20 })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)

const MediaObject = Type.Object(
  {
    link: Type.Optional(Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048 })),
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    caption: Type.Optional(Type.String({ maxLength: 1024 })),
    filename: Type.Optional(Type.String({ maxLength: 240 })),
  },
  { additionalProperties: false },
)

const mediaSend = <T extends 'image' | 'document' | 'audio' | 'video'>(type: T) =>
  Type.Object(
    { phoneNumberId: PhoneNumberId, to: Recipient, type: Type.Literal(type), [type]: MediaObject } as {
      phoneNumberId: typeof PhoneNumberId
      to: typeof Recipient
      type: ReturnType<typeof Type.Literal<T>>
    } & Record<T, typeof MediaObject>,
    { additionalProperties: false },
  )

export const SendMessageBody = Type.Union([
  TextSend,
  TemplateSend,
  mediaSend('image'),
  mediaSend('document'),
  mediaSend('audio'),
  mediaSend('video'),
])
export type SendMessageBody = Static<typeof SendMessageBody>

export const SendMessageAccepted = Type.Object({
  id: Type.String(),
  status: Type.String({
    description: 'queued for a new message; the current status for an idempotent replay',
  }),
})

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
})

/** Meta's recipient digits (no +). */
export function recipientDigits(to: string): string {
  return to.replace(/^\+/, '')
}

/** The type-specific part of a send (`{ body }`, `{ name, language, components }`, `{ link, caption }`). */
export function messageContent(body: SendMessageBody): Record<string, unknown> {
  return (body as unknown as Record<string, Record<string, unknown>>)[body.type]!
}

/**
 * Hash of the request that an Idempotency-Key stands for: canonical JSON (sorted keys), so the same
 * body with its fields in another order is still the same request.
 */
export function requestHash(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex')
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`
  return JSON.stringify(value)
}

/** The Graph request body for a stored outbound message; our message id rides along for reconciliation. */
export function graphPayload(message: { id: string; type: string; content: unknown }, to: string) {
  return {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to,
    type: message.type,
    [message.type]: message.content,
    biz_opaque_callback_data: message.id,
  }
}
