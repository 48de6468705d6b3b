import { setTimeout as sleep } from 'node:timers/promises'
import { excerpt, type HttpResponse } from '@whatsapp-saas/service-client/http-client'
import { failed, missingInputs, passed, type SmokeCheck, type SmokeContext } from '../smoke-check.js'
import { hubSignature, inboundTextWebhook, smokeRecipient } from '../webhook-payload.js'

const DELIVERED = new Set(['delivered', 'read'])

/**
 * End to end as Meta would see it: a user messages in (a signed inbound webhook posted to the service, as
 * Meta posts it; this opens the 24-hour window), the service sends a text back through the number's Graph
 * API, and the message is seen `delivered` (or `read`) within the delivery budget, from the status webhook
 * that Graph API sends back. Only runs with a phone number id given, which must be a number whose Graph API
 * is a fake one (the pipeline's synthetic tenant on AWS, the demo number locally), so it never messages a
 * real person; its recipient is a fictional 1555 number anyway.
 */
export const messageDeliveryCheck: SmokeCheck = {
  name: 'message-delivery',
  async run(ctx) {
    const missing = missingInputs(ctx.env, ['appSecret', 'apiKey', 'phoneNumberId'])
    if (missing) return missing
    const deadline = Date.now() + ctx.deliveryTimeoutMs
    const recipient = smokeRecipient()

    const body = inboundTextWebhook({
      phoneNumberId: ctx.env.phoneNumberId!,
      from: recipient,
      body: 'smoke hello',
    })
    const inbound = await ctx.http(ctx.url('/webhooks/whatsapp'), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-hub-signature-256': hubSignature(ctx.env.appSecret!, body),
      },
      body,
    })
    if (inbound.status !== 200) {
      return failed(`signed inbound webhook answered ${inbound.status}: ${excerpt(inbound.text)}`)
    }

    const sent = await sendUntilWindowOpen(ctx, recipient, deadline)
    if (sent.status !== 202)
      return failed(`POST /api/v1/messages answered ${sent.status}: ${excerpt(sent.text)}`)
    const id = (sent.json as { id?: unknown } | undefined)?.id
    if (typeof id !== 'string') return failed(`POST /api/v1/messages returned no id: ${excerpt(sent.text)}`)

    let lastStatus = 'unknown'
    while (Date.now() < deadline) {
      const current = await ctx.http(ctx.url(`/api/v1/messages/${encodeURIComponent(id)}`), {
        headers: { authorization: `Bearer ${ctx.env.apiKey!}` },
      })
      if (current.status !== 200) return failed(`GET /api/v1/messages/${id} answered ${current.status}`)
      lastStatus = String((current.json as { status?: unknown } | undefined)?.status)
      if (DELIVERED.has(lastStatus)) return passed(`message ${id} sent and ${lastStatus}`)
      if (lastStatus === 'failed') return failed(`message ${id} failed: ${excerpt(current.text)}`)
      await sleep(ctx.pollIntervalMs, undefined, { signal: ctx.signal })
    }
    return failed(`message ${id} still ${lastStatus} after ${ctx.deliveryTimeoutMs} ms`)
  },
}

/**
 * The inbound message reaches the service as a webhook processed in the background, so the window may not be
 * open yet on the first try: a 422 is retried until the deadline, anything else is final.
 */
async function sendUntilWindowOpen(
  ctx: SmokeContext,
  recipient: string,
  deadline: number,
): Promise<HttpResponse> {
  for (;;) {
    const response = await ctx.http(ctx.url('/api/v1/messages'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ctx.env.apiKey!}` },
      body: JSON.stringify({
        phoneNumberId: ctx.env.phoneNumberId,
        to: recipient,
        type: 'text',
        text: { body: 'smoke reply' },
      }),
    })
    if (response.status !== 422 || Date.now() + ctx.pollIntervalMs >= deadline) return response
    await sleep(ctx.pollIntervalMs, undefined, { signal: ctx.signal })
  }
}
