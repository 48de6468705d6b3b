// Request bodies shared by the k6 scripts and the Node runner. No imports: k6 runs this file as is.

/** A phone_number_id no tenant owns: the service answers 200 and stores nothing for any tenant. */
export const UNKNOWN_PHONE_NUMBER_ID = '100000000000000'

/**
 * The demo phone number receives load only where a fake Graph API is wired (a test environment); anywhere
 * else webhooks name a number no tenant owns, so load leaves no tenant data in staging or production.
 */
export function webhookPhoneNumberId(env: { fakeGraphUrl?: string; phoneNumberId?: string }): string {
  return env.fakeGraphUrl && env.phoneNumberId ? env.phoneNumberId : UNKNOWN_PHONE_NUMBER_ID
}

/** Fictional 1555 numbers: `15557` + 6 digits for recipients of sends, `15558` + 6 digits for webhook senders. */
export function loadRecipient(index: number): string {
  return `15557${String(index).padStart(6, '0')}`
}

export function loadSender(index: number): string {
  return `15558${String(index).padStart(6, '0')}`
}

/** One inbound text message in Meta's webhook envelope (docs/whatsapp-cloud-api.md §1.3). `wamid` must be unique per call. */
export function inboundWebhookBody(input: {
  phoneNumberId: string
  from: string
  wamid: string
  text: string
}): string {
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
              contacts: [{ profile: { name: 'Load Test' }, wa_id: input.from }],
              messages: [
                {
                  from: input.from,
                  id: input.wamid,
                  timestamp: String(Math.floor(Date.now() / 1000)),
                  type: 'text',
                  text: { body: input.text },
                },
              ],
            },
          },
        ],
      },
    ],
  })
}

/** The fake Graph API's control call that makes a user message in (and so opens the 24-hour window). */
export function fakeInboundBody(phoneNumberId: string, from: string): string {
  return JSON.stringify({
    phoneNumberId,
    from,
    type: 'text',
    // The fake Graph API takes the message body itself as `text`.
    text: 'load test hello',
    profileName: 'Load Test',
  })
}

export function textMessageBody(phoneNumberId: string, to: string, text: string): string {
  return JSON.stringify({ phoneNumberId, to, type: 'text', text: { body: text } })
}

/** The read scenario alternates between these. */
export const READ_PATHS = ['/api/v1/messages?limit=20', '/api/v1/organization'] as const
