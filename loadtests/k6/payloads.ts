// Request bodies shared by the k6 scripts and the Node runner. No imports: k6 runs this file as is.

/** A phone_number_id no tenant owns: the service answers 200 and stores nothing for any tenant. */
export const UNKNOWN_PHONE_NUMBER_ID = '100000000000000'

/**
 * Webhooks name the given phone number (the synthetic tenant's on AWS, the demo number locally: numbers whose
 * Graph API is a fake one); without one, a number no tenant owns, so load leaves no tenant data behind.
 */
export function webhookPhoneNumberId(env: { phoneNumberId?: string }): string {
  return env.phoneNumberId ? env.phoneNumberId : UNKNOWN_PHONE_NUMBER_ID
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

/**
 * The signed inbound webhook (posted to the service as Meta would) by which a user messages in, opening the
 * 24-hour window of `message-send`. `nonce` makes the wamid unique per run.
 */
export function windowOpeningBody(phoneNumberId: string, from: string, nonce: string): string {
  return inboundWebhookBody({
    phoneNumberId,
    from,
    wamid: `wamid.loadopen${nonce}x${from}`,
    text: 'load test hello',
  })
}

export function textMessageBody(phoneNumberId: string, to: string, text: string): string {
  return JSON.stringify({ phoneNumberId, to, type: 'text', text: { body: text } })
}

/** The read scenario alternates between these. */
export const READ_PATHS = ['/api/v1/messages?limit=20', '/api/v1/organization'] as const
