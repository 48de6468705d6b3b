import { randomUUID } from 'node:crypto'
import { DelayedError, type Job, type Processor } from 'bullmq'
import DataLoader from 'dataloader'
import { type QueryCreator, sql } from 'kysely'
import type { Logger } from 'pino'
import { decryptSecret } from '../crypto/secret-box.js'
import type { PrismaClient } from '../db/prisma.js'
import { messageStatusEvent } from '../events/message-status.js'
import { type DB, type TypedSql, timestampParam, utcTimestamp } from '../sql/typed-sql.js'
import { DueQueue } from './due-queue.js'
import type { GraphClient, SendOutcome } from './graph-client.js'
import type { MessagingSettings } from './messaging-settings.js'
import type { OutboundJobData } from './outbound-queue.js'
import { graphPayload } from './outbound-request.js'
import { SERVICE_WINDOW_MS } from './outbound-service.js'
import type { SendRateLimiter, SendSlot } from './send-rate-limiter.js'

/** What the sender tells the rest of the service. */
export interface OutboundHooks {
  /**
   * After a wamid is committed, for wamids with status webhooks that overtook the send answer (they
   * are stored but unapplied): applies them.
   */
  wamidStored(prisma: PrismaClient, wamid: string): Promise<void>
}

export interface OutboundProcessorDeps {
  /** Rare paths only (a number's token refused, a contact opted out by Meta, overtaken statuses). */
  prisma: PrismaClient
  /** Every statement of the send path: typed from the schema, batched, no interactive transaction. */
  sql: TypedSql
  graph: GraphClient
  limiter: SendRateLimiter
  settings: MessagingSettings
  encryptionKey: Buffer
  hooks: OutboundHooks
  log: Logger
}

/** Longest wait for a reserved rate slot spent waiting in the job; longer ones reschedule it. */
const MAX_SLOT_SLEEP_MS = 1_000
/**
 * Latest a call may leave after its rate slot. The limiter schedules OUTBOUND_RATE_UTILIZATION (96 %)
 * of a number's limit; calls that all leave between 0 and L ms after their slots put at most
 * 0.96 × limit × (1 + L / 1000) into any rolling second, within the limit for L up to ~40 ms. Half of
 * that is left for the network and the receiver's clock. A later call takes a new slot.
 */
const SLOT_LATENESS_MS = 20
/**
 * Least distance of a new slot from the limiter's decision: the answer's way back and the timer.
 * Without it a slot granted for "now" is past when a busy process gets it, and the call, too late,
 * would take slot after slot.
 */
const RESLOT_LEAD_MS = SLOT_LATENESS_MS
/** Call records are written in batches, one statement per tick of this length. */
const TICK_MS = 20
/**
 * Longest head start a call record takes on its slot, beyond its tick. It follows the statement's
 * latency, so that on a slow database the records still commit before their slots; a record that
 * comes back too late keeps its send recorded and takes a new slot.
 */
const MAX_RECORD_LEAD_MS = 1_000
/** Jobs that arrive within this window are claimed by one statement. */
const CLAIM_WINDOW_MS = 20
/** Answers that arrive within this window are stored by one statement. */
const ANSWER_WINDOW_MS = 40
/** How often a send whose call may have reached Meta looks for its status webhook. */
const RECONCILE_POLL_MS = 2_000
/** Most jobs claimed, answers stored or slots taken by one statement or round trip. */
const MAX_BATCH = 200

/** A moving average of how long a statement takes, with a ceiling (exponentially weighted, 1/5). */
class LatencyEstimate {
  constructor(
    private averageMs: number,
    private readonly ceilingMs: number,
  ) {}

  observe(ms: number): void {
    this.averageMs += (Math.min(ms, this.ceilingMs) - this.averageMs) / 5
  }

  /** A margin above the average, so that most records commit before their slot. */
  estimateMs(): number {
    return Math.min(this.ceilingMs, Math.ceil(this.averageMs * 1.5) + 1)
  }
}

interface Pending {
  job: Job<OutboundJobData>
  token: string | undefined
  resolve(result: string): void
  reject(error: unknown): void
}

/** A message this process holds the claim of (status SENDING, claimToken = token). */
interface Claimed {
  pending: Pending
  id: string
  organizationId: string
  conversationId: string
  token: string
  /** Graph calls made before this one. */
  attempts: number
  type: string
  content: unknown
  phoneId: string
  phoneNumberId: string
  throughputMps: number
  accessTokenEnc: string
  /** The number's stored Graph base URL override (honoured only as the GraphClient allows). */
  graphApiBaseUrl: string | null
  contactId: string
  to: string
  /** Redis time of the reserved rate slot. */
  slotAt: number
  /** The call record is written (the call may be made from now on). */
  recorded: boolean
}

type MessageError = { code: number | null; title: string; details?: string | null }
type FailedSend = Pick<Claimed, 'id' | 'token' | 'organizationId' | 'conversationId'>

/** The `message.status` data of an answer stored as SENT (previousStatus is set from the locked row). */
function sentEventData(
  sent: { id: string; wamid: string; organizationId: string; conversationId: string },
  at: Date,
) {
  return messageStatusEvent({ message: sent, previous: 'SENDING', status: 'SENT', at }).data
}

/** The `message.status` data of a failure: the statement fails only messages it holds SENDING. */
function failedEventData(send: FailedSend, error: MessageError, at: Date) {
  return messageStatusEvent({
    message: { ...send, wamid: null },
    previous: 'SENDING',
    status: 'FAILED',
    at,
    error: { code: error.code, title: error.title },
  }).data
}

/**
 * Sends QUEUED messages to the Graph API at Meta's limits (README.md "Sending policy"). The jobs arriving
 * within one claim window share their statements: one claims them and reads what their sends need, one
 * Redis round trip reserves their rate slots, one statement per tick records the calls about to leave,
 * and one stores the answers with their events. Each job still gets its own outcome; a job reschedules
 * itself with moveToDelayed + DelayedError, which does not spend a BullMQ attempt.
 *
 * A send has two durable marks before its call: the claim (SENDING with this batch's claimToken,
 * nextAttemptAt null: the call was certainly not made) and the call record (attempts + 1, nextAttemptAt
 * = the reconcile deadline: the call may have been made), each a fenced update on the claimToken. A
 * process that dies holding claims leaves them recoverable from evidence: a claim without a call
 * record is taken over (a new token, so a merely slow owner can no longer record its call) and sent at
 * once; a recorded call is resolved by its status webhook, which echoes our id.
 */
export function createOutboundProcessor(deps: OutboundProcessorDeps): Processor<OutboundJobData> {
  const sender = new OutboundSender(deps)
  return (job, token) => sender.process(job, token)
}

export class OutboundSender {
  private readonly recordLatency = new LatencyEstimate(3, MAX_RECORD_LEAD_MS)
  /** Sends waiting for their call record, by tick. */
  private readonly ticks = new Map<number, Claimed[]>()
  /** The ticks' records and the calls, each at its time (see DueQueue: why not a timer each). */
  private readonly due = new DueQueue()
  private readonly accessTokens = new Map<string, string>()
  /**
   * The jobs arriving within CLAIM_WINDOW_MS, claimed by one statement. Each load settles with the
   * job's own outcome, later (when its send is answered): the batch hands back one promise per job.
   */
  private readonly claims: DataLoader<Omit<Pending, 'resolve' | 'reject'>, Promise<string>>
  /** The answers arriving within ANSWER_WINDOW_MS, stored by one statement. */
  private readonly answers: DataLoader<{ send: Claimed; wamid: string }, void>
  /** Calls too late for their slots within one event-loop turn: their new slots in one round trip. */
  private readonly reslots: DataLoader<Claimed, SendSlot>
  private readonly db: TypedSql

  constructor(private readonly deps: OutboundProcessorDeps) {
    this.db = deps.sql
    // DataLoader only batches here (no cache, so keys are not deduplicated): a batch starts with its
    // first item and runs after its window, or right after the current event-loop turn; a full batch
    // (MAX_BATCH) closes and the next item starts another. Each item keeps its own promise.
    this.claims = new DataLoader(
      async (items) => {
        const batch = items.map((item) => {
          let settle!: Pick<Pending, 'resolve' | 'reject'>
          const outcome = new Promise<string>((resolve, reject) => {
            settle = { resolve, reject }
          })
          // Settled (often rejected with DelayedError) before the batch hands it on: handled here, so
          // that no rejection counts as unhandled meanwhile; the job still receives it.
          outcome.catch(() => undefined)
          return { pending: { ...item, ...settle }, outcome }
        })
        // A failed statement fails the jobs it has not settled yet (the first settlement counts).
        await this.claimBatch(batch.map((b) => b.pending)).catch((error: unknown) => {
          for (const { pending } of batch) pending.reject(error)
        })
        return batch.map((b) => b.outcome)
      },
      { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: (run) => setTimeout(run, CLAIM_WINDOW_MS) },
    )
    this.answers = new DataLoader(
      async (answers) => {
        await this.storeAnswers(answers)
        return answers.map(() => undefined)
      },
      { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: (run) => setTimeout(run, ANSWER_WINDOW_MS) },
    )
    this.reslots = new DataLoader(
      (sends) =>
        this.deps.limiter.acquireMany(
          sends.map((send) => ({
            phoneNumberId: send.phoneNumberId,
            recipient: send.to,
            throughputMps: send.throughputMps,
          })),
          // A recorded send only needs the answer's way back; an unrecorded one its record too.
          sends.some((send) => !send.recorded) ? this.slotLeadMs() : RESLOT_LEAD_MS,
        ),
      { cache: false, maxBatchSize: MAX_BATCH },
    )
  }

  process(job: Job<OutboundJobData>, token: string | undefined): Promise<string> {
    this.due.runDue()
    return this.claim(job, token)
  }

  /** Settles with the job's outcome once its send is done (or rescheduled: DelayedError). */
  private async claim(job: Job<OutboundJobData>, token: string | undefined): Promise<string> {
    return await this.claims.load({ job, token })
  }

  /** Claims the batch's QUEUED messages and reads what their sends need, in one statement. */
  private async claimBatch(batch: Pending[]): Promise<void> {
    const token = randomUUID()
    const now = new Date()
    const nowTs = sql<Date>`${timestampParam(now)}::timestamp`
    const ids = batch.map((item) => item.job.data.messageId)
    const rows = await this.db
      // The rows as they were before the claim, locked: what the claim and the sends decide on.
      .with(
        (cte) => cte('locked').materialized(),
        (db) =>
          lockedByKey(db, ids).select([
            'id',
            'organizationId',
            'conversationId',
            'phoneNumberId',
            'direction',
            'status',
            'wamid',
            'attempts',
            'claimToken',
            'nextAttemptAt',
            'type',
            'content',
          ]),
      )
      .with('claimed', (db) =>
        db
          .updateTable('Message as m')
          .from('locked')
          .set({
            status: sql`'SENDING'::"MessageStatus"`,
            claimToken: token,
            nextAttemptAt: null,
            updatedAt: nowTs,
          })
          .whereRef('m.id', '=', 'locked.id')
          .where('locked.direction', '=', 'OUTBOUND')
          .where('locked.status', '=', 'QUEUED')
          .where('locked.wamid', 'is', null)
          .returning('m.id'),
      )
      .selectFrom('locked as m')
      .innerJoin('PhoneNumber as p', 'p.id', 'm.phoneNumberId')
      .innerJoin('Conversation as cv', 'cv.id', 'm.conversationId')
      .innerJoin('Contact as ct', 'ct.id', 'cv.contactId')
      .leftJoin('claimed', 'claimed.id', 'm.id')
      .select([
        'm.id',
        'm.organizationId',
        'm.conversationId',
        'm.direction',
        'm.status',
        'm.wamid',
        'm.attempts',
        'm.claimToken',
        sql<string | null>`m."nextAttemptAt"::text`.as('nextAttemptAt'),
        'm.type',
        'm.content',
        'p.id as phoneId',
        'p.phoneNumberId',
        'p.status as phoneStatus',
        'p.deletedAt',
        'p.throughputMps',
        'p.accessTokenEnc',
        'p.graphApiBaseUrl',
        'ct.id as contactId',
        'ct.waId',
        'ct.optedOutAt',
        sql<string | null>`cv."lastInboundAt"::text`.as('lastInboundAt'),
        'claimed.id as claimedId',
      ])
      .execute()
    this.due.runDue()
    const byId = new Map(rows.map((row) => [row.id, row]))

    const sendable: Claimed[] = []
    const failures: Array<{ send: Claimed; error: MessageError }> = []
    for (const item of batch) {
      const row = byId.get(item.job.data.messageId)
      if (row?.direction !== 'OUTBOUND') {
        item.resolve('missing')
        continue
      }
      if (!row.claimedId) {
        if (row.wamid || row.status !== 'SENDING') item.resolve('done-already')
        // Claimed by another run: a crashed or slow one (the job was taken up again), or a call with an
        // unknown outcome. Rare: settled one by one.
        else this.recover(item, row).then(item.resolve, item.reject)
        continue
      }
      const send: Claimed = {
        pending: item,
        id: row.id,
        organizationId: row.organizationId,
        conversationId: row.conversationId,
        token,
        attempts: row.attempts,
        type: row.type,
        content: row.content,
        phoneId: row.phoneId,
        phoneNumberId: row.phoneNumberId,
        throughputMps: row.throughputMps,
        accessTokenEnc: row.accessTokenEnc,
        graphApiBaseUrl: row.graphApiBaseUrl,
        contactId: row.contactId,
        to: row.waId ?? '',
        slotAt: 0,
        recorded: false,
      }
      const refusal = refusalOf(row, now)
      if (refusal) failures.push({ send, error: refusal })
      else sendable.push(send)
    }
    if (failures.length > 0) {
      await this.settleFailures(failures)
      for (const { send } of failures) send.pending.resolve('failed')
    }
    if (sendable.length > 0) await this.reserve(sendable)
  }

  /** How far ahead a slot must be for a send whose call is not recorded yet (its tick and statement). */
  private slotLeadMs(): number {
    return this.recordLatency.estimateMs() + TICK_MS + RESLOT_LEAD_MS
  }

  /** Rate slots for the sends (one Redis round trip); each is then scheduled or given back. */
  private async reserve(sends: Claimed[]): Promise<void> {
    const slots = await this.deps.limiter.acquireMany(
      sends.map((send) => ({
        phoneNumberId: send.phoneNumberId,
        recipient: send.to,
        throughputMps: send.throughputMps,
      })),
      this.slotLeadMs(),
    )
    this.due.runDue()
    const tooFar: Array<{ send: Claimed; waitMs: number }> = []
    sends.forEach((send, index) => {
      const slot = slots[index]!
      if (usable(slot)) this.schedule(send, slot)
      else tooFar.push({ send, waitMs: slot.waitMs })
    })
    if (tooFar.length > 0) {
      // Not called: back to QUEUED (certainly unsent) and taken up again when the slot is near.
      await this.release(tooFar.map(({ send }) => ({ send, callRecorded: false })))
      await Promise.all(tooFar.map(({ send, waitMs }) => this.reschedule(send.pending, waitMs)))
    }
  }

  /** The send's call record goes with the tick just before its slot (less the statement's latency). */
  private schedule(send: Claimed, slot: SendSlot): void {
    send.slotAt = slot.decidedAtMs + slot.waitMs
    if (send.recorded) {
      this.due.at(send.slotAt, () => this.call(send))
      return
    }
    const lead = this.recordLatency.estimateMs()
    // A slot closer than the record's latency cannot be met: the call is due once its record commits.
    // Later than the slot is always within the limit by itself; only a call late against the calls
    // scheduled after it could crowd a second, which is what the lateness bound is about.
    send.slotAt = Math.max(send.slotAt, Date.now() + lead)
    const tick = Math.floor((send.slotAt - lead) / TICK_MS)
    const due = this.ticks.get(tick)
    if (due) {
      due.push(send)
      return
    }
    this.ticks.set(tick, [send])
    this.due.at(tick * TICK_MS, () => {
      const sends = this.ticks.get(tick) ?? []
      this.ticks.delete(tick)
      this.recordCalls(sends).catch((error: unknown) => {
        for (const s of sends) s.pending.reject(error)
      })
    })
  }

  /** Writes the call records of one tick, then makes each call at its slot. */
  private async recordCalls(sends: Claimed[]): Promise<void> {
    const late = sends.filter((send) => Date.now() - send.slotAt > SLOT_LATENESS_MS)
    const onTime = sends.filter((send) => Date.now() - send.slotAt <= SLOT_LATENESS_MS)
    for (const send of late) this.reacquire(send)
    if (onTime.length === 0) return
    const started = Date.now()
    const recorded = await this.record(onTime)
    this.recordLatency.observe(Date.now() - started)
    this.due.runDue()
    for (const send of onTime) {
      // Not recorded: the claim was taken over (this process was thought dead); the new owner sends it.
      if (!recorded.has(send.id)) {
        send.pending.resolve('done-already')
        continue
      }
      send.recorded = true
      // A record that came back too late for its slot stays (the send is recorded, not yet called):
      // the call takes a new slot.
      if (Date.now() - send.slotAt > SLOT_LATENESS_MS) this.reacquire(send)
      else this.due.at(send.slotAt, () => this.call(send))
    }
  }

  private reacquire(send: Claimed): void {
    this.reslots
      .load(send)
      .then(async (slot) => {
        if (usable(slot)) return this.schedule(send, slot)
        await this.release([{ send, callRecorded: send.recorded }])
        await this.reschedule(send.pending, slot.waitMs)
      })
      .catch((error: unknown) => send.pending.reject(error))
  }

  private call(send: Claimed): void {
    // A call runs late when the event loop was busy (a long callback, GC, a loaded machine): the
    // calls due meanwhile would then leave together and crowd one second at Meta. A call too late
    // for its slot takes a new one (its record stays: the send is recorded, not yet called).
    if (Date.now() - send.slotAt > SLOT_LATENESS_MS) {
      this.reacquire(send)
      return
    }
    // Run from other work's callbacks (DueQueue): a failure here is this send's alone.
    let accessToken: string
    try {
      accessToken = this.accessToken(send.accessTokenEnc)
    } catch (error) {
      send.pending.reject(error)
      return
    }
    this.deps.graph
      .sendMessage(send.phoneNumberId, accessToken, graphPayload(send, send.to), send.graphApiBaseUrl)
      .then((outcome) => this.answered(send, outcome))
      .catch((error: unknown) => send.pending.reject(error))
  }

  /**
   * A number's access token in clear, decrypted once per sealed value (a new token is a new sealed
   * value, so a rotated token is never served stale). Bounded: cleared when it holds many numbers.
   */
  private accessToken(sealed: string): string {
    let token = this.accessTokens.get(sealed)
    if (token === undefined) {
      if (this.accessTokens.size >= 10_000) this.accessTokens.clear()
      token = decryptSecret(sealed, this.deps.encryptionKey)
      this.accessTokens.set(sealed, token)
    }
    return token
  }

  private async answered(send: Claimed, outcome: SendOutcome): Promise<void> {
    this.due.runDue()
    const { settings } = this.deps
    const { job } = send.pending
    const attempts = send.attempts + 1
    switch (outcome.kind) {
      case 'accepted':
        return this.answers.load({ send, wamid: outcome.wamid }).then(
          () => send.pending.resolve('sent'),
          (error: unknown) => send.pending.reject(error),
        )
      case 'ambiguous':
        this.deps.log.warn(
          { messageId: send.id, reason: outcome.reason },
          'send outcome unknown: reconciling',
        )
        return this.reschedule(send.pending, Math.min(settings.outboundReconcileAfterMs, RECONCILE_POLL_MS))
      case 'not-sent':
        if (attempts >= settings.outboundMaxAttempts)
          return this.failOne(send, { code: null, title: 'GRAPH_UNREACHABLE', details: outcome.reason })
        await this.release([{ send, callRecorded: true, attemptCounts: true }])
        return this.reschedule(send.pending, backoff(settings.outboundBackoffBaseMs, attempts))
      case 'error': {
        const error = { code: outcome.code ?? null, title: outcome.title, details: outcome.details ?? null }
        switch (outcome.errorClass) {
          case 'throttle-number': {
            // Throttling is not the message's fault: the attempt is given back.
            await this.release([{ send, callRecorded: true }])
            const n = (job.data.numberThrottles ?? 0) + 1
            const pauseMs = Math.min(1_000 * 2 ** (n - 1), 5_000)
            await this.deps.limiter.pauseNumber(send.phoneNumberId, pauseMs)
            return this.reschedule(send.pending, pauseMs, { numberThrottles: n })
          }
          case 'throttle-pair': {
            await this.release([{ send, callRecorded: true }])
            const n = (job.data.pairThrottles ?? 0) + 1
            const waitMs = Math.min(4 ** n * 1_000, 15 * 60_000)
            await this.deps.limiter.backOffPair(send.phoneNumberId, send.to, waitMs)
            return this.reschedule(send.pending, waitMs, { pairThrottles: n })
          }
          case 'throttle-app':
            await this.release([{ send, callRecorded: true }])
            return this.reschedule(
              send.pending,
              backoff(settings.outboundBackoffBaseMs, (job.data.numberThrottles ?? 0) + 1),
            )
          case 'transient':
            if (attempts >= settings.outboundMaxAttempts) return this.failOne(send, error)
            await this.release([{ send, callRecorded: true, attemptCounts: true }])
            return this.reschedule(send.pending, backoff(settings.outboundBackoffBaseMs, attempts))
          case 'auth':
            await this.deps.prisma.phoneNumber.update({
              where: { id: send.phoneId },
              data: { status: 'AUTH_INVALID' },
            })
            this.deps.log.error(
              { phoneNumberId: send.phoneNumberId, code: outcome.code },
              'access token refused: number marked AUTH_INVALID',
            )
            return this.failOne(send, error)
          case 'opt-out':
            await this.deps.prisma.contact.update({
              where: { id: send.contactId },
              data: { optedOutAt: new Date(), optOutSource: 'meta_131050' },
            })
            return this.failOne(send, error)
          default:
            return this.failOne(send, error)
        }
      }
    }
  }

  private async failOne(send: Claimed, error: MessageError): Promise<void> {
    await this.settleFailures([{ send, error }])
    send.pending.resolve('failed')
  }

  /** Stores a window's answers (wamid, SENT, the message.status event) in one statement. */
  private async storeAnswers(answers: ReadonlyArray<{ send: Claimed; wamid: string }>): Promise<void> {
    await this.storeSent(answers.map(({ send, wamid }) => ({ ...send, wamid })))
    this.due.runDue()
    await this.applyOvertakingStatuses(answers.map((a) => a.wamid))
  }

  /**
   * SENT with the wamid, and its `message.status` event in the same statement (so an event exists
   * exactly when the change commits). A message that moved on meanwhile only gets its missing wamid.
   */
  private async storeSent(
    sent: Array<{ id: string; wamid: string; organizationId: string; conversationId: string }>,
  ): Promise<void> {
    const now = new Date()
    const nowTs = sql<Date>`${timestampParam(now)}::timestamp`
    await this.db
      // The status each message is changed from, read under its row lock (PostgreSQL 15 has no
      // RETURNING OLD): the event's previousStatus is what the row held, never a guess.
      .with(
        (cte) => cte('locked').materialized(),
        (db) =>
          lockedByKey(
            db,
            sent.map((s) => s.id),
          ).select(['id', 'status', 'wamid']),
      )
      .with(
        'input',
        () => sql<{ id: string; wamid: string; event: unknown }>`(SELECT * FROM unnest(
          ${sent.map((s) => s.id)}::text[], ${sent.map((s) => s.wamid)}::text[],
          ${sent.map((s) => JSON.stringify(sentEventData(s, now)))}::jsonb[]) AS t(id, wamid, event))`,
      )
      .with('stored', (db) =>
        db
          .updateTable('Message as m')
          .from(['input', 'locked'])
          .set((eb) => ({
            status: sql`'SENT'::"MessageStatus"`,
            wamid: eb.ref('input.wamid'),
            sentAt: nowTs,
            nextAttemptAt: null,
            claimToken: null,
            errorCode: null,
            errorTitle: null,
            updatedAt: nowTs,
          }))
          .whereRef('m.id', '=', 'locked.id')
          .whereRef('locked.id', '=', 'input.id')
          .where('locked.status', 'in', ['QUEUED', 'SENDING'])
          .where('locked.wamid', 'is', null)
          .returning([
            'm.id',
            'm.organizationId',
            'input.event',
            sql<string>`locked.status::text`.as('previous'),
          ]),
      )
      .with('wamidOnly', (db) =>
        db
          .updateTable('Message as m')
          .from(['input', 'locked'])
          .set((eb) => ({ wamid: eb.ref('input.wamid'), claimToken: null }))
          .whereRef('m.id', '=', 'locked.id')
          .whereRef('locked.id', '=', 'input.id')
          .where('locked.status', 'not in', ['QUEUED', 'SENDING'])
          .where('locked.wamid', 'is', null)
          .returning('m.id'),
      )
      .with('event', (db) =>
        db
          .insertInto('DomainEvent')
          .columns(['id', 'organizationId', 'type', 'data', 'createdAt'])
          .expression(
            db
              .selectFrom('stored')
              .select([
                sql<string>`gen_random_uuid()::text`.as('id'),
                'stored.organizationId',
                sql<string>`'message.status'`.as('type'),
                sql<unknown>`jsonb_set(stored.event, '{previousStatus}', to_jsonb(lower(stored.previous)))`.as(
                  'data',
                ),
                nowTs.as('createdAt'),
              ]),
          )
          .returning('DomainEvent.id'),
      )
      // Data-modifying CTEs run whether or not the query reads them.
      .selectFrom('stored')
      .select('stored.id')
      .execute()
  }

  /**
   * Status webhooks that arrived before their wamid was stored wait unapplied. The inbound side holds
   * an advisory lock per wamid while it records a status and looks for its message: waiting for those
   * locks (one at a time, in order) after the commit means that any status recorded without seeing
   * the wamid has committed by the next statement, which then finds it.
   */
  private async applyOvertakingStatuses(wamids: string[]): Promise<void> {
    const sorted = [...wamids].sort()
    await sql`SELECT count(*) FROM (SELECT pg_advisory_xact_lock(hashtextextended(w, 42))
      FROM (SELECT w FROM unnest(${sorted}::text[]) AS w ORDER BY w) AS s) AS l`.execute(this.db)
    const overtaken = await this.db
      .selectFrom('MessageStatusEvent')
      .where('wamid', 'in', sorted)
      .where('appliedAt', 'is', null)
      .select('wamid')
      .distinct()
      .execute()
    for (const { wamid } of overtaken) await this.deps.hooks.wamidStored(this.deps.prisma, wamid)
  }

  /** FAILED with Meta's (or our) error and its `message.status` event, fenced on the claims. */
  private async settleFailures(failures: Array<{ send: FailedSend; error: MessageError }>): Promise<void> {
    const now = new Date()
    const nowTs = sql<Date>`${timestampParam(now)}::timestamp`
    await this.db
      .with(
        (cte) => cte('locked').materialized(),
        (db) =>
          lockedByKey(
            db,
            failures.map((f) => f.send.id),
          ).select(['id', 'status', 'claimToken']),
      )
      .with(
        'input',
        () => sql<{
          id: string
          token: string
          code: number | null
          title: string
          details: string | null
          event: unknown
        }>`(SELECT * FROM unnest(
          ${failures.map((f) => f.send.id)}::text[], ${failures.map((f) => f.send.token)}::text[],
          ${failures.map((f) => f.error.code)}::int[], ${failures.map((f) => f.error.title)}::text[],
          ${failures.map((f) => f.error.details ?? null)}::text[],
          ${failures.map((f) => JSON.stringify(failedEventData(f.send, f.error, now)))}::jsonb[])
          AS t(id, token, code, title, details, event))`,
      )
      .with('failed', (db) =>
        db
          .updateTable('Message as m')
          .from(['input', 'locked'])
          .set((eb) => ({
            status: sql`'FAILED'::"MessageStatus"`,
            failedAt: nowTs,
            nextAttemptAt: null,
            claimToken: null,
            errorCode: eb.ref('input.code'),
            errorTitle: eb.ref('input.title'),
            errorDetails: eb.ref('input.details'),
            updatedAt: nowTs,
          }))
          .whereRef('m.id', '=', 'locked.id')
          .whereRef('locked.id', '=', 'input.id')
          .whereRef('locked.claimToken', '=', 'input.token')
          .where('locked.status', '=', 'SENDING')
          .returning(['m.id', 'm.organizationId', 'input.event']),
      )
      .with('event', (db) =>
        db
          .insertInto('DomainEvent')
          .columns(['id', 'organizationId', 'type', 'data', 'createdAt'])
          .expression(
            db
              .selectFrom('failed')
              .select([
                sql<string>`gen_random_uuid()::text`.as('id'),
                'failed.organizationId',
                sql<string>`'message.status'`.as('type'),
                'failed.event',
                nowTs.as('createdAt'),
              ]),
          )
          .returning('DomainEvent.id'),
      )
      .selectFrom('failed')
      .select('failed.id')
      .execute()
  }

  /**
   * Back to QUEUED, the claim given up. `callRecorded`: a call was recorded, so the record goes too;
   * its attempt counts only when Meta may have spent it (`attemptCounts`: errors, not throttles).
   */
  private async release(
    items: Array<{ send: Claimed; callRecorded: boolean; attemptCounts?: boolean }>,
  ): Promise<void> {
    const ids = items.map((i) => i.send.id)
    const tokens = items.map((i) => i.send.token)
    const giveBack = items.map((i) => (i.callRecorded && !i.attemptCounts ? 1 : 0))
    await this.db
      .with(
        (cte) => cte('locked').materialized(),
        (db) => lockedByKey(db, ids).select(['id', 'status', 'wamid', 'claimToken']),
      )
      .with(
        'input',
        () => sql<{ id: string; token: string; giveBack: number }>`(SELECT * FROM unnest(
          ${ids}::text[], ${tokens}::text[], ${giveBack}::int[]) AS t(id, token, "giveBack"))`,
      )
      .updateTable('Message as m')
      .from(['input', 'locked'])
      .set((eb) => ({
        status: sql`'QUEUED'::"MessageStatus"`,
        claimToken: null,
        nextAttemptAt: null,
        attempts: eb('m.attempts', '-', eb.ref('input.giveBack')),
      }))
      .whereRef('m.id', '=', 'locked.id')
      .whereRef('locked.id', '=', 'input.id')
      .whereRef('locked.claimToken', '=', 'input.token')
      .where('locked.status', '=', 'SENDING')
      .where('locked.wamid', 'is', null)
      .execute()
  }

  /** The call records of sends about to leave (fenced on their claims); returns the recorded ids. */
  private async record(sends: Claimed[]): Promise<Set<string>> {
    const deadline = timestampParam(
      new Date(Date.now() + MAX_SLOT_SLEEP_MS + this.deps.settings.outboundReconcileAfterMs),
    )
    // Fenced on the claim: only sends this run still holds (SENDING, its token, no call recorded).
    const rows = await this.db
      .with(
        (cte) => cte('locked').materialized(),
        (db) =>
          lockedByKey(
            db,
            sends.map((s) => s.id),
          ).select(['id', 'status', 'wamid', 'claimToken', 'nextAttemptAt']),
      )
      .with(
        'input',
        () => sql<{ id: string; token: string }>`(SELECT * FROM unnest(
          ${sends.map((s) => s.id)}::text[], ${sends.map((s) => s.token)}::text[]) AS t(id, token))`,
      )
      .updateTable('Message as m')
      .from(['input', 'locked'])
      .set((eb) => ({
        attempts: eb('m.attempts', '+', 1),
        nextAttemptAt: sql<Date>`${deadline}::timestamp`,
      }))
      .whereRef('m.id', '=', 'locked.id')
      .whereRef('locked.id', '=', 'input.id')
      .whereRef('locked.claimToken', '=', 'input.token')
      .where('locked.status', '=', 'SENDING')
      .where('locked.wamid', 'is', null)
      .where('locked.nextAttemptAt', 'is', null)
      .returning('m.id')
      .execute()
    return new Set(rows.map((row) => row.id))
  }

  private async reschedule(item: Pending, ms: number, patch: Partial<OutboundJobData> = {}): Promise<void> {
    try {
      if (Object.keys(patch).length > 0) await item.job.updateData({ ...item.job.data, ...patch })
      await item.job.moveToDelayed(Date.now() + Math.max(1, Math.round(ms)), item.token)
      item.reject(new DelayedError())
    } catch (error) {
      item.reject(error)
    }
  }

  /** Rescheduled from within recover(): the job's promise rejects with DelayedError. */
  private async delay(item: Pending, ms: number, patch: Partial<OutboundJobData> = {}): Promise<never> {
    if (Object.keys(patch).length > 0) await item.job.updateData({ ...item.job.data, ...patch })
    await item.job.moveToDelayed(Date.now() + Math.max(1, Math.round(ms)), item.token)
    throw new DelayedError()
  }

  /**
   * A SENDING message this run did not claim: its job was taken up again after a crash (or after a
   * stall), or its own call had an unknown outcome. Decided by evidence, never by guessing:
   * - no call record (nextAttemptAt null): the call was certainly not made. The claim is taken over
   *   with a new token (its old owner, if alive, can no longer record a call) and sent now;
   * - a call record: the call may have reached Meta. A status webhook echoing our id adopts its wamid
   *   (looked for every RECONCILE_POLL_MS); only after the reconcile deadline with none is it sent once
   *   more, and a second unknown outcome fails it UNCONFIRMED.
   */
  private async recover(
    item: Pending,
    row: {
      id: string
      claimToken: string | null
      nextAttemptAt: string | null
      organizationId: string
      conversationId: string
    },
  ): Promise<string> {
    const { job } = item
    if (row.nextAttemptAt !== null) {
      const known = await this.wamidFromStatusWebhooks(row.id)
      if (known) {
        await this.storeSent([{ ...row, wamid: known }])
        await this.applyOvertakingStatuses([known])
        return 'sent'
      }
      const deadline = utcTimestamp(row.nextAttemptAt)!.getTime()
      if (Date.now() < deadline) return this.delay(item, Math.min(deadline - Date.now(), RECONCILE_POLL_MS))
    }
    const token = randomUUID()
    const taken = await this.db
      .updateTable('Message')
      .set({ claimToken: token, nextAttemptAt: null })
      .where('id', '=', row.id)
      .where('status', '=', 'SENDING')
      .where('wamid', 'is', null)
      .where(sql<boolean>`"claimToken" IS NOT DISTINCT FROM ${row.claimToken}`)
      .where(
        row.nextAttemptAt === null
          ? sql<boolean>`"nextAttemptAt" IS NULL`
          : sql<boolean>`"nextAttemptAt" = ${row.nextAttemptAt}::timestamp`,
      )
      .returning('id')
      .executeTakeFirst()
    // Changed meanwhile (its owner moved on): look again shortly.
    if (!taken) return this.delay(item, 1_000)
    if (row.nextAttemptAt !== null) {
      if ((job.data.unconfirmedResends ?? 0) >= 1) {
        await this.settleFailures([
          {
            send: { ...row, token },
            error: { code: null, title: 'UNCONFIRMED', details: 'no answer and no status after one resend' },
          },
        ])
        return 'failed'
      }
      await job.updateData({ ...job.data, unconfirmedResends: (job.data.unconfirmedResends ?? 0) + 1 })
      this.deps.log.warn({ messageId: row.id }, 'no status for an unconfirmed send: resending once')
    } else
      this.deps.log.info({ messageId: row.id }, 'claim of a stopped run taken over: never called, sending')
    // Back to QUEUED under the new claim, then through the ordinary batched path.
    await this.db
      .updateTable('Message')
      .set({ status: 'QUEUED', claimToken: null })
      .where('id', '=', row.id)
      .where('claimToken', '=', token)
      .execute()
    return this.claim(job, item.token)
  }

  /** The wamid of an earlier, unconfirmed send, known from a status webhook that echoed our id. */
  private async wamidFromStatusWebhooks(messageId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('MessageStatusEvent')
      .where(sql<string>`raw->>'biz_opaque_callback_data'`, '=', messageId)
      .select('wamid')
      .limit(1)
      .executeTakeFirst()
    return row?.wamid
  }
}

/**
 * The batch's Message rows found by primary key alone and locked as an UPDATE locks them (FOR NO KEY
 * UPDATE), for a materialized CTE: every batch statement of the sender decides on these locked values
 * and then updates by key. Its conditions (`wamid IS NULL`, the status, the claim token) are never put
 * on the updated table itself: there, on statistics that lag a burst of new sends (the first large
 * campaign of a new deployment, before autovacuum's ANALYZE), `wamid IS NULL` led the planner to scan
 * the wamid index and join it row by row to the batch. Seen in the pace benchmark with auto_explain:
 * 2.5–4.3 s per statement on 4,000 queued messages, instead of milliseconds.
 */
function lockedByKey(db: QueryCreator<DB>, ids: readonly string[]) {
  return (
    db
      .selectFrom('Message')
      .where(sql<boolean>`id = ANY(${ids}::text[])`)
      // One lock order for every statement, so that two batches sharing rows cannot deadlock.
      .orderBy('id')
      .forNoKeyUpdate()
  )
}

function usable(slot: SendSlot): boolean {
  return slot.reserved && slot.waitMs <= MAX_SLOT_SLEEP_MS
}

/** Why a claimed message must not be sent at all, checked again at send time. */
function refusalOf(
  row: {
    type: string
    phoneStatus: string
    deletedAt: Date | null
    waId: string | null
    optedOutAt: Date | null
    lastInboundAt: string | null
  },
  now: Date,
): MessageError | undefined {
  if (row.phoneStatus !== 'ACTIVE' || row.deletedAt)
    return { code: null, title: `phone number ${row.deletedAt ? 'DELETED' : row.phoneStatus}` }
  if (!row.waId) return { code: null, title: 'contact has no WhatsApp number' }
  if (row.optedOutAt) return { code: null, title: 'CONTACT_OPTED_OUT' }
  if (row.type !== 'template') {
    // Accepted inside the 24-hour window, but queued until it closed: Meta would refuse it (131047).
    const last = utcTimestamp(row.lastInboundAt)
    if (!last || now.getTime() - last.getTime() >= SERVICE_WINDOW_MS)
      return { code: null, title: 'OUTSIDE_SERVICE_WINDOW' }
  }
  return undefined
}

/** Exponential backoff with full jitter in [base·2^(n-1)/2, base·2^(n-1)]. */
export function backoff(baseMs: number, attempt: number): number {
  const ceiling = baseMs * 2 ** Math.max(0, attempt - 1)
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2))
}
