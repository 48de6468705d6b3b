import { encryptSecret } from '../src/crypto/secret-box.js'
import type { PrismaClient } from '../src/db/prisma.js'
import { TEST_SECRETS } from './harness/index.js'

let sequence = 0

/** A phone number of an organization, as the phone-number API would store it. */
export async function createPhoneNumber(
  prisma: PrismaClient,
  organizationId: string,
  phoneNumberId?: string,
) {
  sequence += 1
  return prisma.phoneNumber.create({
    data: {
      organizationId,
      wabaId: `waba-${sequence}`,
      phoneNumberId: phoneNumberId ?? `pn-${Date.now()}-${sequence}`,
      displayPhoneNumber: `+1555000${String(sequence).padStart(4, '0')}`,
      accessTokenEnc: encryptSecret('graph-token', TEST_SECRETS.encryptionKey),
    },
  })
}

export interface TextMessageSpec {
  wamid: string
  from: string
  body: string
  timestamp: number
  name?: string
}

export function messagesChange(phoneNumberId: string, messages: TextMessageSpec[]) {
  return {
    field: 'messages',
    value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550001111', phone_number_id: phoneNumberId },
      contacts: messages.map((m) => ({ profile: { name: m.name ?? `User ${m.from}` }, wa_id: m.from })),
      messages: messages.map((m) => ({
        from: m.from,
        id: m.wamid,
        timestamp: String(m.timestamp),
        type: 'text',
        text: { body: m.body },
      })),
    },
  }
}

export function statusesChange(
  phoneNumberId: string,
  statuses: { wamid: string; status: string; timestamp: number; errorCode?: number }[],
) {
  return {
    field: 'messages',
    value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550001111', phone_number_id: phoneNumberId },
      statuses: statuses.map((s) => ({
        id: s.wamid,
        status: s.status,
        timestamp: String(s.timestamp),
        recipient_id: '16505551234',
        ...(s.errorCode ? { errors: [{ code: s.errorCode, title: 'error title' }] } : {}),
      })),
    },
  }
}

export function envelope(entries: { wabaId?: string; changes: unknown[] }[]) {
  return {
    object: 'whatsapp_business_account',
    entry: entries.map((e) => ({ id: e.wabaId ?? 'waba', changes: e.changes })),
  }
}
