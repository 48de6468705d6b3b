import { createHmac } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { httpCall } from '@whatsapp-saas/service-client/http-client'
import type { TargetEnv } from '@whatsapp-saas/service-client/target-env'
import { loadRecipient, textMessageBody, windowOpeningBody } from '../k6/payloads.js'
import { MESSAGE_SEND_RECIPIENTS, WINDOW_OPEN_WAIT_S, WINDOW_PROBE_INTERVAL_S } from '../k6/scenarios.js'

/**
 * What message-send.ts does in k6's setup(): every recipient messages in (a signed inbound webhook posted to
 * the service, as Meta does), then a probe send is retried (bounded) until the service has recorded the
 * inbound and the 24-hour window is open.
 */
export async function openServiceWindows(env: TargetEnv, signal: AbortSignal): Promise<void> {
  const nonce = String(Date.now())
  // All at once, as Meta delivers them (and as k6's http.batch sends them).
  const inbound = await Promise.all(
    Array.from({ length: MESSAGE_SEND_RECIPIENTS }, (_, index) => {
      const body = windowOpeningBody(env.phoneNumberId!, loadRecipient(index), nonce)
      return httpCall(`${env.baseUrl}/webhooks/whatsapp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': `sha256=${createHmac('sha256', env.appSecret!).update(body).digest('hex')}`,
        },
        body,
        timeoutMs: 5_000,
      })
    }),
  )
  const refused = inbound.find((response) => response.status !== 200)
  if (refused) throw new Error(`inbound webhook answered ${refused.status}`)
  const probe = textMessageBody(
    env.phoneNumberId!,
    loadRecipient(MESSAGE_SEND_RECIPIENTS - 1),
    'load window probe',
  )
  for (
    let attempt = 0;
    attempt < WINDOW_OPEN_WAIT_S / WINDOW_PROBE_INTERVAL_S && !signal.aborted;
    attempt++
  ) {
    const sent = await httpCall(`${env.baseUrl}/api/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${env.apiKey!}` },
      body: probe,
      timeoutMs: 5_000,
    })
    if (sent.status === 202) return
    if (sent.status !== 422) throw new Error(`window probe send answered ${sent.status}`)
    await sleep(WINDOW_PROBE_INTERVAL_S * 1_000, undefined, { signal }).catch(() => undefined)
  }
  throw new Error(`24-hour windows still closed after ${WINDOW_OPEN_WAIT_S} s`)
}
