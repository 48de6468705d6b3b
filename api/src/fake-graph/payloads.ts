/** Webhook envelopes exactly as Meta sends them (docs/whatsapp-cloud-api.md §1.3). */

export interface PhoneIdentity {
  wabaId: string
  phoneNumberId: string
  displayPhoneNumber: string
}

export interface StatusItem {
  id: string
  status: 'sent' | 'delivered' | 'read' | 'failed'
  timestamp: string
  recipient_id: string
  biz_opaque_callback_data?: string
  conversation?: { id: string; origin: { type: string } }
  pricing?: { billable: boolean; pricing_model: string; category: string }
  errors?: unknown[]
}

export interface InboundMessageItem {
  from?: string
  user_id?: string
  id: string
  timestamp: string
  type: string
  [content: string]: unknown
}

function envelope(phone: PhoneIdentity, field: string, value: Record<string, unknown>) {
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: phone.wabaId, changes: [{ field, value }] }],
  }
}

function metadata(phone: PhoneIdentity) {
  return { display_phone_number: phone.displayPhoneNumber, phone_number_id: phone.phoneNumberId }
}

export function statusesPayload(phone: PhoneIdentity, statuses: StatusItem[]) {
  return envelope(phone, 'messages', { messaging_product: 'whatsapp', metadata: metadata(phone), statuses })
}

export function messagesPayload(
  phone: PhoneIdentity,
  contact: { waId?: string; bsuid?: string; profileName: string },
  messages: InboundMessageItem[],
) {
  const contactItem: Record<string, unknown> = { profile: { name: contact.profileName } }
  if (contact.waId) contactItem.wa_id = contact.waId
  if (contact.bsuid) contactItem.user_id = contact.bsuid
  return envelope(phone, 'messages', {
    messaging_product: 'whatsapp',
    metadata: metadata(phone),
    contacts: [contactItem],
    messages,
  })
}

export function templateStatusPayload(
  wabaId: string,
  template: { id: string; name: string; language: string; category: string },
  event: string,
  reason: string,
) {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: wabaId,
        time: Math.floor(Date.now() / 1000),
        changes: [
          {
            field: 'message_template_status_update',
            value: {
              event,
              message_template_id: Number(template.id),
              message_template_name: template.name,
              message_template_language: template.language,
              message_template_category: template.category,
              reason,
            },
          },
        ],
      },
    ],
  }
}
