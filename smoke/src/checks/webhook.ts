import { randomBytes } from 'node:crypto'
import { excerpt } from '@whatsapp-saas/service-client/http-client'
import { failed, missingInputs, passed, type SmokeCheck } from '../smoke-check.js'
import {
  hubSignature,
  inboundTextWebhook,
  smokeRecipient,
  UNKNOWN_PHONE_NUMBER_ID,
} from '../webhook-payload.js'

/** Meta's GET handshake: the exact challenge comes back for the right token, a wrong token is refused with 403. */
export const webhookHandshakeCheck: SmokeCheck = {
  name: 'webhook-handshake',
  async run(ctx) {
    const missing = missingInputs(ctx.env, ['verifyToken'])
    if (missing) return missing
    const challenge = randomBytes(8).toString('hex')
    const handshakeUrl = (token: string) =>
      ctx.url(
        `/webhooks/whatsapp?${new URLSearchParams({ 'hub.mode': 'subscribe', 'hub.verify_token': token, 'hub.challenge': challenge })}`,
      )
    const accepted = await ctx.http(handshakeUrl(ctx.env.verifyToken!))
    if (accepted.status !== 200) return failed(`handshake with the verify token answered ${accepted.status}`)
    if (accepted.text !== challenge) {
      return failed(`handshake echoed ${JSON.stringify(excerpt(accepted.text, 40))}, not the challenge`)
    }
    const refused = await ctx.http(handshakeUrl(`wrong-${challenge}`))
    if (refused.status !== 403)
      return failed(`handshake with a wrong token answered ${refused.status}, expected 403`)
    return passed('challenge echoed exactly; wrong token refused with 403')
  },
}

/**
 * A correctly signed event is accepted, a wrongly signed one refused. Off this machine the event names a
 * phone number no tenant owns, so the check leaves no tenant data behind in staging or production.
 */
export const webhookSignatureCheck: SmokeCheck = {
  name: 'webhook-signature',
  async run(ctx) {
    const missing = missingInputs(ctx.env, ['appSecret'])
    if (missing) return missing
    const phoneNumberId =
      ctx.isLocal && ctx.env.phoneNumberId ? ctx.env.phoneNumberId : UNKNOWN_PHONE_NUMBER_ID
    const body = inboundTextWebhook({ phoneNumberId, from: smokeRecipient(), body: 'smoke check' })
    const post = (signature: string) =>
      ctx.http(ctx.url('/webhooks/whatsapp'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
        body,
      })
    const signed = await post(hubSignature(ctx.env.appSecret!, body))
    if (signed.status !== 200)
      return failed(`signed webhook answered ${signed.status}: ${excerpt(signed.text)}`)
    const forged = await post(hubSignature(`not-${ctx.env.appSecret!}`, body))
    if (forged.status !== 401)
      return failed(`webhook with a bad signature answered ${forged.status}, expected 401`)
    const target = phoneNumberId === UNKNOWN_PHONE_NUMBER_ID ? 'unknown phone number id' : 'demo phone number'
    return passed(`signed event accepted (200, ${target}); bad signature refused (401)`)
  },
}
