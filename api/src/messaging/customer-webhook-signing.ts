import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'

/** A new endpoint signing secret in the Standard Webhooks form `whsec_<base64 of 32 random bytes>`. */
export function newEndpointSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`
}

/**
 * Headers of one delivery attempt (Standard Webhooks): `webhook-id` is the event id, the same on
 * every retry and manual redelivery, so the receiver can deduplicate; the timestamp and signature
 * are fresh per attempt (receivers reject stale timestamps).
 */
export function signedHeaders(secret: string, eventId: string, body: string, at: Date = new Date()) {
  return {
    'webhook-id': eventId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(eventId, at, body),
  }
}
