import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type Server } from 'node:http'

export interface ReceivedWebhook {
  signatureValid: boolean
  body: {
    entry: Array<{ id: string; changes: Array<{ field: string; value: Record<string, unknown> }> }>
  }
}

/** A stand-in for the service's /webhooks/whatsapp that checks Meta's signature and records bodies. */
export async function startWebhookReceiver(appSecret: string) {
  const received: ReceivedWebhook[] = []
  /**
   * Status codes to answer inbound-message webhooks with before answering 200 (one per request).
   * Status-only webhooks never consume them: a late status of an earlier test must not.
   */
  const failFirst: number[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      const expected = Buffer.from(`sha256=${createHmac('sha256', appSecret).update(raw).digest('hex')}`)
      const given = Buffer.from(String(req.headers['x-hub-signature-256'] ?? ''))
      const signatureValid = given.length === expected.length && timingSafeEqual(given, expected)
      const body = JSON.parse(raw.toString('utf8')) as ReceivedWebhook['body']
      const carriesMessages = body.entry.some((e) => e.changes.some((c) => Array.isArray(c.value.messages)))
      const failure = carriesMessages ? failFirst.shift() : undefined
      if (failure) {
        res.statusCode = failure
        res.end()
        return
      }
      received.push({ signatureValid, body })
      res.end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}/webhooks/whatsapp`,
    received,
    failFirst,
    messages(): Array<Record<string, unknown>> {
      return received.flatMap((w) =>
        w.body.entry.flatMap((e) =>
          e.changes.flatMap((c) => (c.value.messages as Array<Record<string, unknown>> | undefined) ?? []),
        ),
      )
    },
    statuses(): Array<Record<string, unknown>> {
      return received.flatMap((w) =>
        w.body.entry.flatMap((e) =>
          e.changes.flatMap((c) => (c.value.statuses as Array<Record<string, unknown>> | undefined) ?? []),
        ),
      )
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** Polls until the predicate holds (bounded), for webhooks that arrive after a delay. */
export async function eventually(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}
