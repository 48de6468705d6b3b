import { createHmac, randomBytes } from 'node:crypto'

/** A phone_number_id no tenant owns: the service must accept the event (200) and store nothing for any tenant. */
export const UNKNOWN_PHONE_NUMBER_ID = '100000000000000'

/** One inbound text message in Meta's webhook envelope (docs/whatsapp-cloud-api.md §1.3). */
export function inboundTextWebhook(input: { phoneNumberId: string; from: string; body: string }): string {
  const wamid = `wamid.smoke${randomBytes(12).toString('hex')}`
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '100000000000001',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550000000', phone_number_id: input.phoneNumberId },
              contacts: [{ profile: { name: 'Smoke Check' }, wa_id: input.from }],
              messages: [
                {
                  from: input.from,
                  id: wamid,
                  timestamp: String(Math.floor(Date.now() / 1000)),
                  type: 'text',
                  text: { body: input.body },
                },
              ],
            },
          },
        ],
      },
    ],
  })
}

/** Meta's `X-Hub-Signature-256` value over the exact bytes sent. */
export function hubSignature(appSecret: string, rawBody: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`
}

/** A random E.164 number in the 1555 fictional range, so each run talks to a fresh contact. */
export function smokeRecipient(): string {
  return `1555${String(randomBytes(4).readUInt32BE() % 10_000_000).padStart(7, '0')}`
}
