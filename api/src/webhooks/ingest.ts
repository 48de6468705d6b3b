import { createHash } from 'node:crypto'
import type pg from 'pg'
import { retryWhileUnreachable, untilDeadline } from '../db/dependency-outage.js'
import type { InboundQueue } from '../queues/inbound-queue.js'

export type IngestOutcome = 'queued' | 'duplicate' | 'quarantined'

interface Pending {
  /** Epoch ms until which this delivery waits for PostgreSQL and Redis (dependency-outage.ts). */
  deadline: number
  sha: string
  raw: Buffer
  json: string
  resolve(outcome: IngestOutcome): void
  reject(error: unknown): void
}

/**
 * Errors that come from a body's content, not from the database being unavailable: SQLSTATE class 22
 * (data exception: `\u0000` or a lone surrogate in jsonb, invalid text) and 54 (program limit exceeded:
 * nesting beyond PostgreSQL's stack depth). Retrying such a body can never succeed.
 */
export function isContentError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('54'))
}

/**
 * Persists verified Meta deliveries and queues them, answering each request once its row is committed
 * and its job added. Requests that arrive in the same event-loop turn share one multi-row
 * INSERT ... ON CONFLICT ("bodySha256") DO NOTHING and one addBulk: under load that is one database
 * round trip and one Redis round trip for many deliveries instead of one each (measured in
 * bench/api.bench.ts), and a lone request still goes out at once (no timer). It talks to PostgreSQL
 * through its own small pg pool: this path runs for every webhook and skips the ORM's per-query cost.
 *
 * Duplicates: an exact retry (same body hash) inserts nothing; if that earlier row is not processed
 * yet it is queued again under the same job id, which BullMQ keeps as one job.
 *
 * Poison: when the batch INSERT fails because of a body's content, every body of the batch is inserted
 * on its own, so one bad delivery never fails the others; a body PostgreSQL refuses is kept byte for
 * byte in "QuarantinedWebhook" with the reason (once per distinct body) and answered like a stored one,
 * so that Meta stops retrying a delivery that could never be stored.
 */
export class WebhookIngestor {
  private pending: Pending[] = []
  private scheduled = false
  private inFlight = 0
  private readonly maxBatch: number
  private readonly maxInFlight: number
  private readonly dependencyWaitMs: number

  constructor(
    private readonly pool: pg.Pool,
    private readonly queue: InboundQueue,
    options: { maxBatch?: number; maxInFlight?: number; dependencyWaitMs?: number } = {},
  ) {
    this.maxBatch = options.maxBatch ?? 200
    this.maxInFlight = options.maxInFlight ?? 2
    this.dependencyWaitMs = options.dependencyWaitMs ?? 0
  }

  ingest(rawBody: Buffer, json: string): Promise<IngestOutcome> {
    const sha = createHash('sha256').update(rawBody).digest('hex')
    const deadline = Date.now() + this.dependencyWaitMs
    return new Promise<IngestOutcome>((resolve, reject) => {
      this.pending.push({ deadline, sha, raw: rawBody, json, resolve, reject })
      this.schedule()
    })
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => this.flush())
  }

  private flush(): void {
    this.scheduled = false
    // At most `maxInFlight` batches at a time: under load the next batch grows while these are stored.
    // Each batch costs a database and a Redis round trip (over TLS) whatever its size, so a few large
    // batches cost far less CPU than many small ones (profiled: with every turn's batch sent at once,
    // the per-batch writes were a fifth of the API's CPU under the benchmark's load).
    while (this.pending.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.pending.splice(0, this.maxBatch)
      this.inFlight += 1
      // Storing a batch again is safe: its INSERT skips bodies already stored (same hash) and its jobs are
      // keyed by row id. So a batch that met a dropped connection runs again until the earliest deadline.
      const deadline = Math.min(...batch.map((item) => item.deadline))
      retryWhileUnreachable(() => this.store(batch, deadline), deadline)
        .catch((error: unknown) => {
          for (const item of batch) item.reject(error)
        })
        .finally(() => {
          this.inFlight -= 1
          if (this.pending.length > 0) this.schedule()
        })
    }
  }

  private async store(batch: Pending[], deadline: number): Promise<void> {
    const bySha = new Map<string, Pending[]>()
    for (const item of batch) bySha.set(item.sha, [...(bySha.get(item.sha) ?? []), item])
    const shas = [...bySha.keys()]
    let insertedIds: Map<string, string>
    try {
      insertedIds = await this.insert(shas.map((sha) => [sha, bySha.get(sha)![0]!.json]))
    } catch (error) {
      if (!isContentError(error)) throw error
      return this.storeEach(bySha, deadline)
    }
    await this.queueNew(shas, insertedIds, deadline)
    for (const [sha, items] of bySha) {
      items.forEach((item, index) => {
        item.resolve(index === 0 && insertedIds.has(sha) ? 'queued' : 'duplicate')
      })
    }
  }

  /** The per-body fallback after a batch failed on content: each body succeeds or fails on its own. */
  private async storeEach(bySha: Map<string, Pending[]>, deadline: number): Promise<void> {
    await Promise.all(
      [...bySha].map(async ([sha, items]) => {
        const first = items[0]!
        try {
          let outcome: IngestOutcome
          try {
            const inserted = await this.insert([[sha, first.json]])
            await this.queueNew([sha], inserted, deadline)
            outcome = inserted.has(sha) ? 'queued' : 'duplicate'
          } catch (error) {
            if (!isContentError(error)) throw error
            await this.quarantine(sha, first.raw, error)
            outcome = 'quarantined'
          }
          items.forEach((item, index) => {
            item.resolve(index === 0 || outcome === 'quarantined' ? outcome : 'duplicate')
          })
        } catch (error) {
          for (const item of items) item.reject(error)
        }
      }),
    )
  }

  private async insert(rows: Array<[sha: string, json: string]>): Promise<Map<string, string>> {
    // A named statement: PostgreSQL parses and plans it once per connection, not once per batch.
    const inserted = await this.pool.query<{ id: string; sha: string }>({
      name: 'webhook-ingest-insert',
      text: `INSERT INTO "InboundWebhook" (id, "bodySha256", raw)
       SELECT gen_random_uuid()::text, t.sha, t.raw::jsonb FROM unnest($1::text[], $2::text[]) AS t(sha, raw)
       ON CONFLICT ("bodySha256") DO NOTHING
       RETURNING id, "bodySha256" AS sha`,
      values: [rows.map(([sha]) => sha), rows.map(([, json]) => json)],
    })
    return new Map(inserted.rows.map((row) => [row.sha, row.id]))
  }

  /** Queues the new rows and again the earlier, still unprocessed rows of bodies seen before. */
  private async queueNew(shas: string[], insertedIds: Map<string, string>, deadline: number): Promise<void> {
    const jobs = [...insertedIds.values()]
    const seenBefore = shas.filter((sha) => !insertedIds.has(sha))
    if (seenBefore.length > 0) {
      const existing = await this.pool.query<{ id: string }>(
        `SELECT id FROM "InboundWebhook" WHERE "bodySha256" = ANY($1::text[]) AND "processedAt" IS NULL`,
        [seenBefore],
      )
      jobs.push(...existing.rows.map((row) => row.id))
    }
    // While Redis is away the queue connection holds the command (offline queue) and sends it once Redis is
    // back; the request waits for that until its deadline.
    if (jobs.length > 0)
      await untilDeadline(
        this.queue.addBulk(
          jobs.map((id) => ({ name: 'inbound', data: { inboundWebhookId: id }, opts: { jobId: id } })),
        ),
        Math.max(deadline, Date.now() + 1_000),
        'redis',
      )
  }

  private async quarantine(sha: string, raw: Buffer, cause: unknown): Promise<void> {
    const { code, message } = cause as { code: string; message?: string }
    await this.pool.query(
      `INSERT INTO "QuarantinedWebhook" (id, "bodySha256", raw, reason)
       VALUES (gen_random_uuid()::text, $1, $2, $3)
       ON CONFLICT ("bodySha256") DO NOTHING`,
      [sha, raw, `${code}: ${message ?? 'rejected by PostgreSQL'}`.slice(0, 1_000)],
    )
  }
}
