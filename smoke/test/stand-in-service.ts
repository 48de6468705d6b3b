import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Ways the stand-in can be broken, one per smoke check, to prove each check can fail. */
export interface StandInFaults {
  healthBody?: Record<string, string>
  healthStatus?: number
  liveStatus?: number
  version?: string
  handshakeEcho?: (challenge: string) => string
  wrongTokenStatus?: number
  acceptBadSignature?: boolean
  readWithoutKeyStatus?: number
  /** What GET /api/v1/messages/:id reports after the first poll. */
  deliveredAs?: 'delivered' | 'read' | 'sent' | 'failed'
  /** Accept inbound messages without recording them, so the 24-hour window never opens. */
  dropInbound?: boolean
  /** The status message-delivery's signed inbound message ("smoke hello") is answered with (default 200). */
  inboundStatus?: number
}

export interface StandInSecrets {
  apiKey: string
  appSecret: string
  verifyToken: string
  phoneNumberId: string
}

export interface StandIn {
  baseUrl: string
  /** phone_number_id values of every signed webhook accepted. */
  webhookPhoneNumberIds: string[]
  close(): Promise<void>
}

/** A small server implementing the service contract of docs/design.md. */
export async function startStandIn(secrets: StandInSecrets, faults: StandInFaults = {}): Promise<StandIn> {
  const openWindows = new Set<string>()
  const messagePolls = new Map<string, number>()
  const webhookPhoneNumberIds: string[] = []
  let sequence = 0

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://stand-in')
    const body = await readBody(req)
    const authorised = req.headers.authorization === `Bearer ${secrets.apiKey}`
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload))
    }
    const route = `${req.method} ${url.pathname}`

    if (route === 'GET /health') {
      return send(
        faults.healthStatus ?? 200,
        faults.healthBody ?? { status: 'ok', database: 'connected', redis: 'connected' },
      )
    }
    if (route === 'GET /health/live') return send(faults.liveStatus ?? 200, { status: 'ok' })
    if (route === 'GET /api/v1/status')
      return send(200, { version: faults.version ?? '1.0.0', uptimeSeconds: 3 })
    if (route === 'GET /webhooks/whatsapp') {
      const challenge = url.searchParams.get('hub.challenge') ?? ''
      if (
        url.searchParams.get('hub.mode') === 'subscribe' &&
        url.searchParams.get('hub.verify_token') === secrets.verifyToken
      ) {
        res
          .writeHead(200, { 'content-type': 'text/plain' })
          .end(faults.handshakeEcho?.(challenge) ?? challenge)
        return
      }
      return send(faults.wrongTokenStatus ?? 403, { error: { code: 'FORBIDDEN' } })
    }
    if (route === 'POST /webhooks/whatsapp') {
      const expected = Buffer.from(
        `sha256=${createHmac('sha256', secrets.appSecret).update(body).digest('hex')}`,
      )
      const given = Buffer.from(String(req.headers['x-hub-signature-256'] ?? ''))
      const valid = given.length === expected.length && timingSafeEqual(given, expected)
      if (!valid && !faults.acceptBadSignature) return send(401, { error: { code: 'INVALID_SIGNATURE' } })
      // Like the service, an inbound message opens that user's 24-hour window.
      const value = JSON.parse(body).entry[0].changes[0].value as {
        metadata: { phone_number_id: string }
        messages?: { from: string; text?: { body?: string } }[]
      }
      webhookPhoneNumberIds.push(value.metadata.phone_number_id)
      if (valid && faults.inboundStatus && value.messages?.some((m) => m.text?.body === 'smoke hello'))
        return send(faults.inboundStatus, { error: { code: 'REFUSED' } })
      if (!faults.dropInbound) {
        for (const message of value.messages ?? [])
          openWindows.add(`${value.metadata.phone_number_id}:${message.from}`)
      }
      return send(200, { received: true })
    }
    if (url.pathname.startsWith('/api/v1/')) {
      if (route === 'GET /api/v1/messages') {
        return authorised ? send(200, { data: [] }) : send(faults.readWithoutKeyStatus ?? 401, { data: [] })
      }
      if (!authorised) return send(401, { error: { code: 'UNAUTHORIZED' } })
      if (route === 'POST /api/v1/messages') {
        const message = JSON.parse(body) as { phoneNumberId: string; to: string }
        if (!openWindows.has(`${message.phoneNumberId}:${message.to}`)) {
          return send(422, { error: { code: 'OUTSIDE_SERVICE_WINDOW' } })
        }
        const id = `msg_${++sequence}`
        messagePolls.set(id, 0)
        return send(202, { id, status: 'queued' })
      }
      const polls = messagePolls.get(url.pathname.replace('/api/v1/messages/', ''))
      if (req.method === 'GET' && polls !== undefined) {
        messagePolls.set(url.pathname.replace('/api/v1/messages/', ''), polls + 1)
        return send(200, {
          status: polls === 0 ? 'queued' : (faults.deliveredAs ?? 'delivered'),
          wamid: 'wamid.out',
        })
      }
    }
    send(404, { error: { code: 'NOT_FOUND' } })
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(500).end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    webhookPhoneNumberIds,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
