import { setTimeout as sleep } from 'node:timers/promises'
import { excerpt, type HttpResponse } from '../http-client.js'
import { failed, missingInputs, passed, type SmokeCheck, type SmokeContext } from '../smoke-check.js'
import { smokeRecipient } from '../webhook-payload.js'

const DELIVERED = new Set(['delivered', 'read'])

/**
 * End to end through the fake Graph API: a user messages in (opening the 24-hour window), the service sends a
 * text back, and the message is seen `delivered` (or `read`) within the delivery budget. Only runs where a fake
 * Graph API is wired, so it never messages a real person.
 */
export const messageDeliveryCheck: SmokeCheck = {
  name: 'message-delivery',
  async run(ctx) {
    const missing = missingInputs(ctx.env, ['fakeGraphUrl', 'apiKey', 'phoneNumberId'])
    if (missing) return missing
    const deadline = Date.now() + ctx.deliveryTimeoutMs
    const recipient = smokeRecipient()

    const inbound = await ctx.http(`${ctx.env.fakeGraphUrl!.replace(/\/+$/, '')}/__fake/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        phoneNumberId: ctx.env.phoneNumberId,
        from: recipient,
        type: 'text',
        text: 'smoke hello',
        profileName: 'Smoke Check',
      }),
      // The fake answers once the service took its signed webhook, retrying it for several seconds if refused.
      timeoutMs: Math.max(ctx.requestTimeoutMs, 15_000),
    })
    if (inbound.status < 200 || inbound.status > 299) {
      return failed(`fake Graph POST /__fake/inbound answered ${inbound.status}: ${excerpt(inbound.text)}`)
    }
    // The fake reports whether the service accepted the inbound webhook it sent on our behalf.
    const relayed = (inbound.json as { webhook?: { ok?: unknown; status?: unknown } } | undefined)?.webhook
    if (relayed && relayed.ok === false) {
      return failed(
        `the fake Graph API's inbound webhook was not accepted by the service (status ${String(relayed.status)})`,
      )
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
