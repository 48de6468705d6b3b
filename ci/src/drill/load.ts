import { createHmac, randomBytes } from 'node:crypto'
import { Agent, request } from 'undici'

// The drill's steady, bounded load through the entry URL: authenticated reads, sends (each with its own
// Idempotency-Key, as a careful client does) and signed inbound webhooks as Meta sends them. Each request is
// one sample; what the service acknowledged goes in the ledger that the accounting checks afterwards.
// Open model (a fixed rate, not a fixed concurrency) so that a slow service does not lower the load it gets.

export type RequestKind = 'read' | 'send' | 'inbound'

export interface Sample {
  kind: RequestKind
  /** Epoch ms when the request was sent. */
  at: number
  ms: number
  /** HTTP status, or undefined when no answer came (connection error, timeout). */
  status?: number
  error?: string
}

export interface Ledger {
  /** Sends answered 2xx: the service's message id and the key it was sent with. */
  sends: { id: string; key: string; to: string; marker: string }[]
  /** Inbound webhooks answered 2xx: the wamid they carried. */
  inbound: string[]
}

export interface LoadTarget {
  baseUrl: string
  apiKey: string
  appSecret: string
  phoneNumberId: string
}

/**
 * Recipients whose 24-hour window the drill opens first (free-form sends need one). Enough of them that the
 * per-recipient pair rate (one message per 6 s after a burst) never holds the drill's sends back.
 */
export const drillRecipient = (index: number) => `15556${String(index).padStart(6, '0')}`
export const DRILL_RECIPIENTS = 200
const drillSender = (index: number) => `15559${String(index).padStart(6, '0')}`

export function inboundWebhook(phoneNumberId: string, from: string, wamid: string, text: string): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '200000000000001',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550000000', phone_number_id: phoneNumberId },
              contacts: [{ profile: { name: 'Drill' }, wa_id: from }],
              messages: [
                {
                  from,
                  id: wamid,
                  timestamp: String(Math.floor(Date.now() / 1000)),
                  type: 'text',
                  text: { body: text },
                },
              ],
            },
          },
        ],
      },
    ],
  })
}

export function assertLoopback(baseUrl: string): void {
  const host = new URL(baseUrl).hostname
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host))
    throw new Error(`the drill only runs against a loopback URL (got ${baseUrl})`)
}

export interface LoadGenerator {
  readonly samples: Sample[]
  readonly ledger: Ledger
  /** Sends `count` messages at once (the worker fault needs a batch in flight); resolves when answered. */
  burst(count: number): Promise<void>
  stop(): Promise<void>
}

export function startLoad(
  target: LoadTarget,
  options: { ratePerSecond: number; timeoutMs?: number; maxInFlight?: number },
): LoadGenerator {
  assertLoopback(target.baseUrl)
  const timeoutMs = options.timeoutMs ?? 10_000
  // By default the bound on requests in flight is what the rate and the client timeout allow anyway (every
  // request is answered or timed out before it is reached), so the load generator's own limit never counts a
  // request the service is still legitimately holding (it waits up to DEPENDENCY_WAIT_MS for a restarting
  // dependency) as failed. One connection per request in flight: none waits in the client's queue.
  const maxInFlight = options.maxInFlight ?? Math.ceil((options.ratePerSecond * timeoutMs) / 1_000) + 10
  const agent = new Agent({ connections: maxInFlight, keepAliveTimeout: 4_000 })
  const run = randomBytes(4).toString('hex')
  const samples: Sample[] = []
  const ledger: Ledger = { sends: [], inbound: [] }
  const inFlight = new Set<Promise<void>>()
  let n = 0

  async function one(kind: RequestKind): Promise<void> {
    const i = n++
    const at = Date.now()
    const sample: Sample = { kind, at, ms: 0 }
    let path = '/api/v1/messages?limit=1'
    let init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string } = {
      method: 'GET',
      headers: { authorization: `Bearer ${target.apiKey}` },
    }
    let key = ''
    let to = ''
    let marker = ''
    let wamid = ''
    if (kind === 'send') {
      key = `drill-${run}-${i}`
      // Unique and never a substring of another: finds every row this send made.
      marker = `[drill ${run}#${i}]`
      to = drillRecipient(i % DRILL_RECIPIENTS)
      path = '/api/v1/messages'
      init = {
        method: 'POST',
        headers: {
          authorization: `Bearer ${target.apiKey}`,
          'content-type': 'application/json',
          'idempotency-key': key,
        },
        body: JSON.stringify({
          phoneNumberId: target.phoneNumberId,
          to,
          type: 'text',
          text: { body: marker },
        }),
      }
    } else if (kind === 'inbound') {
      wamid = `wamid.drill${run}x${i}`
      const body = inboundWebhook(target.phoneNumberId, drillSender(i % 1000), wamid, `drill in ${i}`)
      path = '/webhooks/whatsapp'
      init = {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': `sha256=${createHmac('sha256', target.appSecret).update(body).digest('hex')}`,
        },
        body,
      }
    }
    try {
      const response = await request(`${target.baseUrl}${path}`, {
        ...init,
        dispatcher: agent,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      })
      const text = await response.body.text()
      sample.status = response.statusCode
      if (response.statusCode >= 200 && response.statusCode < 300) {
        if (kind === 'send') {
          const id = (JSON.parse(text) as { id?: string }).id
          if (id) ledger.sends.push({ id, key, to, marker })
        } else if (kind === 'inbound') ledger.inbound.push(wamid)
      }
    } catch (error) {
      const e = error as { code?: string; message?: string }
      sample.error = e.code ?? e.message ?? 'error'
    }
    sample.ms = Date.now() - at
    samples.push(sample)
  }

  const track = (kind: RequestKind) => {
    if (inFlight.size >= maxInFlight) {
      // The service is not keeping up: what could not be sent counts as failed, the load stays bounded.
      samples.push({ kind, at: Date.now(), ms: 0, error: 'CLIENT_BACKLOG' })
      return
    }
    const p = one(kind).finally(() => inFlight.delete(p))
    inFlight.add(p)
  }

  // Half reads, a quarter sends, a quarter inbound webhooks, spread evenly over each second.
  const mix: RequestKind[] = ['read', 'send', 'read', 'inbound']
  const intervalMs = 1_000 / options.ratePerSecond
  let tick = 0
  const timer = setInterval(() => track(mix[tick++ % mix.length]!), intervalMs)

  return {
    samples,
    ledger,
    async burst(count) {
      await Promise.all(Array.from({ length: count }, () => one('send')))
    },
    async stop() {
      clearInterval(timer)
      await Promise.allSettled([...inFlight])
      await agent.close()
    },
  }
}

/** Figures of the samples that started in [from, to). */
export function summarize(samples: readonly Sample[], from: number, to: number) {
  const inWindow = samples.filter((s) => s.at >= from && s.at < to)
  const failed = inWindow.filter((s) => s.status === undefined || s.status < 200 || s.status >= 300)
  const latencies = inWindow
    .filter((s) => s.status !== undefined)
    .map((s) => s.ms)
    .sort((a, b) => a - b)
  const at = (q: number) =>
    latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! : 0
  const reasons: Record<string, number> = {}
  for (const s of failed) {
    const reason = s.error ?? String(s.status)
    reasons[reason] = (reasons[reason] ?? 0) + 1
  }
  // The slowest answer of each kind says which path held a request longest (reads wait in Prisma, sends and
  // inbound webhooks in their batches).
  const maxMsByKind: Partial<Record<RequestKind, number>> = {}
  for (const s of inWindow)
    if (s.status !== undefined) maxMsByKind[s.kind] = Math.max(maxMsByKind[s.kind] ?? 0, s.ms)
  return {
    sent: inWindow.length,
    failed: failed.length,
    failures: reasons,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: latencies.at(-1) ?? 0,
    maxMsByKind,
  }
}
