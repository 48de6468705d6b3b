import { createHmac } from 'node:crypto'
import { Agent, request } from 'undici'

/** How status webhooks follow an accepted send. Every field can be changed at run time. */
export interface StatusWebhookConfig {
  /** Emit statuses after each accepted send at all. */
  enabled: boolean
  /** Delay after the send before each status (ms). */
  delaysMs: { sent: number; delivered: number; read: number }
  /** Statuses to emit, in order: "read" can be left out to stop at delivered. */
  statuses: Array<'sent' | 'delivered' | 'read'>
  /** Send them in reverse order (read first): our side must only move forward. */
  reorder: boolean
  /** Extra copies of each webhook (Meta delivers at least once). */
  duplicates: number
  /** Meta sends no "delivered" when a message is delivered and read at once. */
  skipDelivered: boolean
  /** All statuses of one message in a single POST instead of one POST each. */
  batch: boolean
}

export const defaultStatusWebhookConfig: StatusWebhookConfig = {
  enabled: true,
  delaysMs: { sent: 20, delivered: 40, read: 60 },
  statuses: ['sent', 'delivered', 'read'],
  reorder: false,
  duplicates: 0,
  skipDelivered: false,
  batch: false,
}

export interface DeliveryResult {
  ok: boolean
  status?: number
  error?: string
  attempts: number
}

export interface WebhookEmitterOptions {
  url?: string
  appSecret: string
  /** Retries after a non-2xx answer or a network error, with compressed backoff (base doubling). */
  maxRetries: number
  retryBaseMs: number
  /** Pending (scheduled or retrying) deliveries above this are dropped: bounded memory. */
  maxPending: number
}

/**
 * Sends Meta-style webhooks (signed with X-Hub-Signature-256 over the exact bytes sent) to the
 * configured callback, retrying on non-2xx like Meta does, compressed from days to milliseconds.
 */
export class WebhookEmitter {
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly agent = new Agent({ connections: 32, keepAliveTimeout: 10_000 })
  private closed = false
  delivered = 0
  failed = 0
  dropped = 0

  constructor(private readonly options: WebhookEmitterOptions) {}

  get url(): string | undefined {
    return this.options.url
  }

  setUrl(url: string | undefined): void {
    this.options.url = url
  }

  get pending(): number {
    return this.timers.size
  }

  /** Signs and posts now; resolves after the first attempt, retries continue in the background. */
  async deliver(payload: unknown): Promise<DeliveryResult> {
    return this.attempt(JSON.stringify(payload), 1)
  }

  /** Posts after a delay (fire and forget). */
  schedule(payload: unknown, delayMs: number): void {
    this.later(delayMs, () => {
      void this.deliver(payload)
    })
  }

  sign(rawBody: string): string {
    return `sha256=${createHmac('sha256', this.options.appSecret).update(rawBody).digest('hex')}`
  }

  /** Forgets every scheduled or retrying delivery (a reset must not leak into the next test). */
  cancelPending(): void {
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }

  async close(): Promise<void> {
    this.closed = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    await this.agent.close()
  }

  private later(delayMs: number, run: () => void): void {
    if (this.closed) return
    if (this.timers.size >= this.options.maxPending) {
      this.dropped += 1
      return
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      run()
    }, delayMs)
    this.timers.add(timer)
  }

  private async attempt(rawBody: string, attempt: number): Promise<DeliveryResult> {
    const url = this.options.url
    if (!url || this.closed) return { ok: false, error: 'no webhook url configured', attempts: attempt - 1 }
    let status: number | undefined
    let error: string | undefined
    try {
      const response = await request(url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': this.sign(rawBody) },
        body: rawBody,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      })
      status = response.statusCode
      await response.body.dump()
    } catch (e) {
      error = (e as Error).message
    }
    if (status !== undefined && status >= 200 && status < 300) {
      this.delivered += 1
      return { ok: true, status, attempts: attempt }
    }
    if (attempt <= this.options.maxRetries) {
      const delay = this.options.retryBaseMs * 2 ** (attempt - 1)
      this.later(delay, () => {
        void this.attempt(rawBody, attempt + 1)
      })
    } else {
      this.failed += 1
    }
    return { ok: false, status, error, attempts: attempt }
  }
}
