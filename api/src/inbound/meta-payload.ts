// Shapes of Meta's WhatsApp Cloud API webhook payloads (the parts the service reads). Every field is
// optional: the body is Meta's, and a malformed part must not stop the rest of a batch.

export interface MetaWebhookPayload {
  object?: string
  entry?: MetaEntry[]
}

export interface MetaEntry {
  /** WABA id */
  id?: string
  changes?: MetaChange[]
}

export interface MetaChange {
  field?: string
  value?: MetaMessagesValue & MetaTemplateStatusValue
}

export interface MetaMessagesValue {
  messaging_product?: string
  metadata?: { display_phone_number?: string; phone_number_id?: string }
  contacts?: MetaContact[]
  messages?: MetaInboundMessage[]
  statuses?: MetaStatus[]
  errors?: MetaError[]
}

export interface MetaContact {
  wa_id?: string
  /** Business-scoped user id, present when the user hides the phone number behind a username. */
  user_id?: string
  profile?: { name?: string; username?: string }
}

export interface MetaInboundMessage {
  id?: string
  from?: string
  from_user_id?: string
  timestamp?: string
  type?: string
  text?: { body?: string }
  [content: string]: unknown
}

export interface MetaStatus {
  id?: string
  status?: string
  timestamp?: string
  recipient_id?: string
  recipient_user_id?: string
  biz_opaque_callback_data?: string
  errors?: MetaError[]
  [extra: string]: unknown
}

export interface MetaError {
  code?: number
  title?: string
  message?: string
  error_data?: { details?: string }
}

export interface MetaTemplateStatusValue {
  event?: string
  message_template_id?: number | string
  message_template_name?: string
  message_template_language?: string
  message_template_category?: string
  reason?: string
}

/** Meta timestamps are Unix seconds as strings. */
export function metaTime(timestamp: string | undefined): Date | undefined {
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return undefined
  return new Date(Number(timestamp) * 1000)
}
