import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export interface StandInBehaviour {
  /** Added to every answer of the service's load-tested routes. */
  delayMs?: number
  /** Every n-th request to a load-tested route answers 500. */
  failEvery?: number
  /** Accept inbound messages without recording them, so no 24-hour window ever opens. */
  dropInbound?: boolean
}

export interface StandInStats {
  webhooksAccepted: number
  webhooksRefused: number
  webhookPhoneNumberIds: Set<string>
  messagesQueued: number
  messagesOutsideWindow: number
  reads: Record<string, number>
  unauthorised: number
  /** Status reads that carried the admin token (and so saw the queue depths). */
  adminStatusReads: number
}

export interface LoadStandIn {
  baseUrl: string
  stats: StandInStats
  behaviour: StandInBehaviour
  close(): Promise<void>
}

export const standInSecrets = {
  apiKey: 'wsk_load_test_key',
  adminToken: 'load-admin-token-0123456789',
  appSecret: 'load-app-secret',
  phoneNumberId: '555000111',
}

/** Implements the routes the load scenarios hit with tunable slowness and errors. */
export async function startLoadStandIn(behaviour: StandInBehaviour = {}): Promise<LoadStandIn> {
  const stats: StandInStats = {
    webhooksAccepted: 0,
    webhooksRefused: 0,
    webhookPhoneNumberIds: new Set(),
    messagesQueued: 0,
    messagesOutsideWindow: 0,
    reads: {},
    unauthorised: 0,
    adminStatusReads: 0,
  }
  const openWindows = new Set<string>()
  let served = 0

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks)
    const send = (status: number, payload: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload))
    // The window-opening messages of message-send's setup are not the measured traffic: no faults for them.
    const setup = req.url === '/webhooks/whatsapp' && body.includes('wamid.loadopen')
    if (!setup) {
      served++
      if (behaviour.delayMs) await sleep(behaviour.delayMs)
      if (behaviour.failEvery && served % behaviour.failEvery === 0)
        return send(500, { error: { code: 'INTERNAL' } })
    }

    if (req.method === 'POST' && req.url === '/webhooks/whatsapp') {
      const expected = Buffer.from(
        `sha256=${createHmac('sha256', standInSecrets.appSecret).update(body).digest('hex')}`,
      )
      const given = Buffer.from(String(req.headers['x-hub-signature-256'] ?? ''))
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        stats.webhooksRefused++
        return send(401, { error: { code: 'INVALID_SIGNATURE' } })
      }
      stats.webhooksAccepted++
      // Like the service, an inbound message opens that user's 24-hour window.
      const value = JSON.parse(body.toString()).entry[0].changes[0].value as {
        metadata: { phone_number_id: string }
        messages?: { from: string }[]
      }
      stats.webhookPhoneNumberIds.add(value.metadata.phone_number_id)
      if (!behaviour.dropInbound)
        for (const message of value.messages ?? [])
          openWindows.add(`${value.metadata.phone_number_id}:${message.from}`)
      return send(200, {})
    }
    // Like the service's: queue depths (read by the runner between scenarios) only with the admin token.
    if (req.method === 'GET' && req.url === '/api/v1/status') {
      if (req.headers.authorization !== `Bearer ${standInSecrets.adminToken}`)
        return send(200, { status: 'ok', version: 'stand-in' })
      stats.adminStatusReads++
      return send(200, {
        status: 'ok',
        version: 'stand-in',
        queues: { 'wa-inbound': { waiting: 0, active: 0 } },
      })
    }
    if (req.headers.authorization !== `Bearer ${standInSecrets.apiKey}`) {
      stats.unauthorised++
      return send(401, { error: { code: 'UNAUTHORIZED' } })
    }
    if (req.method === 'POST' && req.url === '/api/v1/messages') {
      const message = JSON.parse(body.toString()) as { phoneNumberId: string; to: string }
      if (!openWindows.has(`${message.phoneNumberId}:${message.to}`)) {
        stats.messagesOutsideWindow++
        return send(422, { error: { code: 'OUTSIDE_SERVICE_WINDOW' } })
      }
      stats.messagesQueued++
      return send(202, { id: `msg_${served}`, status: 'queued' })
    }
    if (
      req.method === 'GET' &&
      (req.url === '/api/v1/messages?limit=20' || req.url === '/api/v1/organization')
    ) {
      stats.reads[req.url] = (stats.reads[req.url] ?? 0) + 1
      return send(200, { data: [] })
    }
    send(404, { error: { code: 'NOT_FOUND' } })
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(500).end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    behaviour,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
