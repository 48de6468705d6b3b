import { type Static, Type } from '@sinclair/typebox'
import type { Message } from '../generated/prisma/client.js'
import { DateTime, iso, LiteralUnion, NullableDateTime } from '../http/schemas.js'

export const API_MESSAGE_STATUSES = [
  'queued',
  'sending',
  'sent',
  'delivered',
  'read',
  'failed',
  'received',
] as const
export type ApiMessageStatus = (typeof API_MESSAGE_STATUSES)[number]

export const MessageView = Type.Object({
  id: Type.String(),
  conversationId: Type.String(),
  phoneNumberId: Type.String({ description: "Meta's phone_number_id" }),
  direction: Type.Union([Type.Literal('inbound'), Type.Literal('outbound')]),
  type: Type.String(),
  content: Type.Unknown(),
  status: LiteralUnion(API_MESSAGE_STATUSES),
  wamid: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([
    Type.Object({
      code: Type.Union([Type.Integer(), Type.Null()]),
      title: Type.Union([Type.String(), Type.Null()]),
      details: Type.Union([Type.String(), Type.Null()]),
    }),
    Type.Null(),
  ]),
  metaTimestamp: NullableDateTime,
  sentAt: NullableDateTime,
  deliveredAt: NullableDateTime,
  readAt: NullableDateTime,
  failedAt: NullableDateTime,
  createdAt: DateTime,
  updatedAt: DateTime,
})
export type MessageView = Static<typeof MessageView>

export type MessageWithNumber = Message & { phoneNumber: { phoneNumberId: string } }

/** The API's representation of a stored message: statuses lowercased, Meta's phone_number_id. */
export function messageView(message: MessageWithNumber): MessageView {
  const hasError = message.errorCode !== null || message.errorTitle !== null
  return {
    id: message.id,
    conversationId: message.conversationId,
    phoneNumberId: message.phoneNumber.phoneNumberId,
    direction: message.direction === 'INBOUND' ? 'inbound' : 'outbound',
    type: message.type,
    content: message.content,
    status: message.status.toLowerCase() as ApiMessageStatus,
    wamid: message.wamid,
    error: hasError
      ? { code: message.errorCode, title: message.errorTitle, details: message.errorDetails }
      : null,
    metaTimestamp: iso(message.metaTimestamp),
    sentAt: iso(message.sentAt),
    deliveredAt: iso(message.deliveredAt),
    readAt: iso(message.readAt),
    failedAt: iso(message.failedAt),
    createdAt: message.createdAt.toISOString(),
    updatedAt: message.updatedAt.toISOString(),
  }
}

export const withPhoneNumber = { phoneNumber: { select: { phoneNumberId: true } } } as const
