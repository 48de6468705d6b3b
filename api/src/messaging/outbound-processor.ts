import { setTimeout as sleep } from 'node:timers/promises'
import { DelayedError, type Job, type Processor } from 'bullmq'
import type { Logger } from 'pino'
import { decryptSecret } from '../crypto/secret-box.js'
import type { Db, PrismaClient } from '../db/prisma.js'
import type { GraphClient, SendOutcome } from './graph-client.js'
import type { MessagingSettings } from './messaging-settings.js'
import type { OutboundJobData } from './outbound-queue.js'
import { graphPayload } from './outbound-request.js'
import type { SendRateLimiter } from './send-rate-limiter.js'

export interface MessageRef {
  id: string
  organizationId: string
  conversationId: string
  wamid: string | null
}

/** What the processor tells the rest of the service. */
export interface OutboundHooks {
  /** After a wamid is stored: applies status webhooks that overtook the send answer. */
  wamidStored(prisma: PrismaClient, wamid: string): Promise<void>
  /**
   * After the processor itself changed a message's status (sent on acceptance, failed); runs in the
   * transaction of the change, so an event is published exactly when the change commits.
   */
  statusChanged(
    tx: Db,
    message: MessageRef,
    status: 'sent' | 'failed',
    /** The status the change was made from, read under the row's lock. */
    previous: 'QUEUED' | 'SENDING',
    error?: { code: number | null; title: string; details?: string | null },
  ): Promise<void>
}

/**
 * Locks the message row and reads its status, so a guarded update that follows in the same transaction
 * changes exactly that status (its previous status in the `message.status` event).
 */
async function lockedSendStatus(tx: Db, id: string): Promise<'QUEUED' | 'SENDING' | undefined> {
  const rows = await tx.$queryRaw<{ status: string }[]>`
    SELECT status::text AS status FROM "Message" WHERE id = ${id} FOR UPDATE`
  const status = rows[0]?.status
  return status === 'QUEUED' || status === 'SENDING' ? status : undefined
}

export interface OutboundProcessorDeps {
  prisma: PrismaClient
  graph: GraphClient
  limiter: SendRateLimiter
  settings: MessagingSettings
  encryptionKey: Buffer
  hooks: OutboundHooks
  log: Logger
}

/** Longest wait for a reserved rate slot spent sleeping in the job; longer ones reschedule it. */
const MAX_SLOT_SLEEP_MS = 1_000
interface FlatSendRow {
  id: string
  organizationId: string
  conversationId: string
  direction: string
  status: string
  wamid: string | null
  attempts: number
  nextAttemptAt: Date | null
  type: string
  content: unknown
  phoneId: string
  phoneNumberId: string
  phoneStatus: string
  deletedAt: Date | null
  throughputMps: number
  accessTokenEnc: string
  graphApiBaseUrl: string | null
  contactId: string
  waId: string | null
  optedOutAt: Date | null
}

type SendRow = FlatSendRow & {
  phoneNumber: {
    id: string
    phoneNumberId: string
    status: string
    deletedAt: Date | null
    throughputMps: number
    accessTokenEnc: string
    graphApiBaseUrl: string | null
  }
  conversation: { contact: { id: string; waId: string | null; optedOutAt: Date | null } }
}

/** Latest a call may leave after its rate slot; a later one takes a new slot (see the send loop). */
const SLOT_LATENESS_MS = 15
/** Longest head start the SENDING claim takes on its slot (a slower claim makes the call late). */
const MAX_CLAIM_LEAD_MS = 40

/** A moving average of how long a statement takes, with a ceiling (exponentially weighted, 1/5). */
class LatencyEstimate {
  constructor(
    private averageMs: number,
    private readonly ceilingMs: number,
  ) {}

  observe(ms: number): void {
    this.averageMs += (Math.min(ms, this.ceilingMs) - this.averageMs) / 5
  }

  /** A margin above the average, so that most claims commit before their slot. */
  estimateMs(): number {
    return Math.min(this.ceilingMs, Math.ceil(this.averageMs * 1.5) + 1)
  }
}

/** How often an unconfirmed send looks for its status webhook before its deadline. */
const RECONCILE_POLL_MS = 5_000

/**
 * Sends one QUEUED message to the Graph API at Meta's limits (README.md "Sending policy").
 * Returns a short word for the job's result; reschedules itself with moveToDelayed + DelayedError,
 * which does not spend a BullMQ attempt.
 */
export function createOutboundProcessor(deps: OutboundProcessorDeps): Processor<OutboundJobData> {
  const { prisma, settings } = deps
  const claimLatency = new LatencyEstimate(3, MAX_CLAIM_LEAD_MS)

  async function reschedule(job: Job<OutboundJobData>, token: string | undefined, ms: number, patch = {}) {
    if (Object.keys(patch).length > 0) await job.updateData({ ...job.data, ...patch })
    await job.moveToDelayed(Date.now() + Math.max(1, Math.round(ms)), token)
    throw new DelayedError()
  }

  async function fail(
    message: MessageRef,
    error: { code: number | null; title: string; details?: string | null },
  ): Promise<string> {
    await prisma.$transaction(async (tx) => {
      const previous = await lockedSendStatus(tx, message.id)
      const changed = await tx.message.updateMany({
        where: { id: message.id, status: { in: ['QUEUED', 'SENDING'] } },
        data: {
          status: 'FAILED',
          failedAt: new Date(),
          nextAttemptAt: null,
          errorCode: error.code,
          errorTitle: error.title,
          errorDetails: error.details ?? null,
        },
      })
      if (changed.count > 0 && previous)
        await deps.hooks.statusChanged(tx, message, 'failed', previous, error)
    })
    return 'failed'
  }

  /** Back to QUEUED: Meta definitely did not take the message (a call never made gives its attempt back). */
  const requeue = (id: string, options: { callMade: boolean } = { callMade: true }) =>
    prisma.message.updateMany({
      where: { id, status: 'SENDING', wamid: null },
      data: {
        status: 'QUEUED',
        nextAttemptAt: null,
        ...(options.callMade ? {} : { attempts: { decrement: 1 } }),
      },
    })

  /** The wamid of an earlier, unconfirmed send, known from a status webhook that echoed our id. */
  async function wamidFromStatusWebhooks(messageId: string): Promise<string | undefined> {
    const rows = await prisma.$queryRaw<Array<{ wamid: string }>>`
      SELECT "wamid" FROM "MessageStatusEvent"
      WHERE "raw"->>'biz_opaque_callback_data' = ${messageId} LIMIT 1`
    return rows[0]?.wamid
  }

  async function accepted(message: MessageRef, wamid: string): Promise<string> {
    await prisma.$transaction(async (tx) => {
      const previous = await lockedSendStatus(tx, message.id)
      const stored = await tx.message.updateMany({
        where: { id: message.id, status: { in: ['QUEUED', 'SENDING'] }, wamid: null },
        data: {
          wamid,
          status: 'SENT',
          sentAt: new Date(),
          nextAttemptAt: null,
          errorCode: null,
          errorTitle: null,
        },
      })
      if (stored.count > 0 && previous)
        await deps.hooks.statusChanged(tx, { ...message, wamid }, 'sent', previous)
      // Otherwise the message already moved on: at most its wamid is missing.
      else await tx.message.updateMany({ where: { id: message.id, wamid: null }, data: { wamid } })
    })
    await deps.hooks.wamidStored(prisma, wamid)
    return 'sent'
  }

  /**
   * The message with its number and contact in one raw statement: every send starts here, and the
   * ORM would spend a query (~2.5 ms of CPU each) per relation.
   */
  async function loadSend(messageId: string): Promise<SendRow | undefined> {
    const [row] = await prisma.$queryRaw<FlatSendRow[]>`
      SELECT m.id, m."organizationId", m."conversationId", m.direction::text AS direction,
             m.status::text AS status, m.wamid, m.attempts, m."nextAttemptAt", m.type, m.content,
             p.id AS "phoneId", p."phoneNumberId", p.status::text AS "phoneStatus", p."deletedAt",
             p."throughputMps", p."accessTokenEnc", p."graphApiBaseUrl",
             ct.id AS "contactId", ct."waId", ct."optedOutAt"
      FROM "Message" m
      JOIN "PhoneNumber" p ON p.id = m."phoneNumberId"
      JOIN "Conversation" cv ON cv.id = m."conversationId"
      JOIN "Contact" ct ON ct.id = cv."contactId"
      WHERE m.id = ${messageId}`
    if (!row) return undefined
    return {
      ...row,
      phoneNumber: {
        id: row.phoneId,
        phoneNumberId: row.phoneNumberId,
        status: row.phoneStatus,
        deletedAt: row.deletedAt,
        throughputMps: row.throughputMps,
        accessTokenEnc: row.accessTokenEnc,
        graphApiBaseUrl: row.graphApiBaseUrl,
      },
      conversation: { contact: { id: row.contactId, waId: row.waId, optedOutAt: row.optedOutAt } },
    }
  }

  return async (job, token) => {
    const message = await loadSend(job.data.messageId)
    if (message?.direction !== 'OUTBOUND') return 'missing'
    if (message.wamid || !['QUEUED', 'SENDING'].includes(message.status)) return 'done-already'
    const ref: MessageRef = {
      id: message.id,
      organizationId: message.organizationId,
      conversationId: message.conversationId,
      wamid: null,
    }

    if (message.status === 'SENDING') {
      // An earlier run may have reached Meta (it died mid-call, or the answer was lost). Never
      // resend blindly: Meta's status webhooks carry our id in biz_opaque_callback_data.
      const known = await wamidFromStatusWebhooks(message.id)
      if (known) return accepted(ref, known)
      const deadline = message.nextAttemptAt?.getTime() ?? 0
      // Look again every few seconds until the deadline: a status webhook usually comes quickly.
      if (Date.now() < deadline)
        return reschedule(job, token, Math.min(deadline - Date.now(), RECONCILE_POLL_MS))
      if ((job.data.unconfirmedResends ?? 0) >= 1)
        return fail(ref, {
          code: null,
          title: 'UNCONFIRMED',
          details: 'no answer and no status after one resend',
        })
      await job.updateData({ ...job.data, unconfirmedResends: (job.data.unconfirmedResends ?? 0) + 1 })
      deps.log.warn({ messageId: message.id }, 'no status for an unconfirmed send: resending once')
    }

    const phone = message.phoneNumber
    if (phone.status !== 'ACTIVE' || phone.deletedAt)
      return fail(ref, { code: null, title: `phone number ${phone.deletedAt ? 'DELETED' : phone.status}` })
    const to = message.conversation.contact.waId
    if (!to) return fail(ref, { code: null, title: 'contact has no WhatsApp number' })
    if (message.conversation.contact.optedOutAt) return fail(ref, { code: null, title: 'CONTACT_OPTED_OUT' })

    let slot = await deps.limiter.acquire(phone.phoneNumberId, to, phone.throughputMps)
    if (!slot.reserved || slot.waitMs > MAX_SLOT_SLEEP_MS) return reschedule(job, token, slot.waitMs)
    // The slot in Redis time, the clock the limiter shares between processes (hosts keep theirs in step).
    let slotAt = slot.decidedAtMs + slot.waitMs

    // SENDING with a deadline is written BEFORE the call: if this process dies during the call, the
    // next run knows the request may have reached Meta and reconciles first. It is written as late
    // as possible, timed to commit just before the slot, so that a process dying while it waits for
    // its slot leaves the message QUEUED (certainly not sent: the next run sends at once) instead of
    // SENDING (outcome unknown: the next run must wait for a status webhook or the deadline).
    let claimed = false
    // A slot is good only while it is fresh: a call that leaves much later than its slot could land
    // in the same second as the calls of the next slots, so a busy process takes a new one instead.
    for (;;) {
      if (!claimed) {
        const lead = claimLatency.estimateMs()
        if (slotAt - lead - Date.now() > 0) await sleep(slotAt - lead - Date.now())
        const claimedAt = new Date()
        const rows = await prisma.$executeRaw`
          UPDATE "Message" SET status = 'SENDING', attempts = attempts + 1, "updatedAt" = ${claimedAt},
            "nextAttemptAt" = ${new Date(claimedAt.getTime() + MAX_SLOT_SLEEP_MS + settings.outboundReconcileAfterMs)}
          WHERE id = ${message.id} AND status IN ('QUEUED', 'SENDING') AND wamid IS NULL`
        claimLatency.observe(Date.now() - claimedAt.getTime())
        if (rows === 0) return 'done-already'
        claimed = true
      }
      const wait = slotAt - Date.now()
      if (wait > 0) await sleep(wait)
      if (Date.now() - slotAt <= SLOT_LATENESS_MS) break
      slot = await deps.limiter.acquire(phone.phoneNumberId, to, phone.throughputMps)
      if (!slot.reserved || slot.waitMs > MAX_SLOT_SLEEP_MS) {
        // Not sent: back to QUEUED with the attempt given back, like any other throttle.
        await requeue(message.id, { callMade: false })
        return reschedule(job, token, slot.waitMs)
      }
      slotAt = slot.decidedAtMs + slot.waitMs
      // A wait for the new slot is not spent claimed: the claim is given back and taken again just
      // before it, so that dying meanwhile still leaves the message certainly unsent.
      if (slotAt - Date.now() > MAX_CLAIM_LEAD_MS) {
        await requeue(message.id, { callMade: false })
        claimed = false
      }
    }

    const accessToken = decryptSecret(phone.accessTokenEnc, deps.encryptionKey)
    const outcome: SendOutcome = await deps.graph.sendMessage(
      phone.phoneNumberId,
      accessToken,
      graphPayload(message, to),
      phone.graphApiBaseUrl,
    )
    const attempts = message.attempts + 1

    switch (outcome.kind) {
      case 'accepted':
        return accepted(ref, outcome.wamid)
      case 'ambiguous':
        deps.log.warn({ messageId: message.id, reason: outcome.reason }, 'send outcome unknown: reconciling')
        return reschedule(job, token, Math.min(settings.outboundReconcileAfterMs, RECONCILE_POLL_MS))
      case 'not-sent':
        await requeue(message.id)
        if (attempts >= settings.outboundMaxAttempts)
          return fail(ref, { code: null, title: 'GRAPH_UNREACHABLE', details: outcome.reason })
        return reschedule(job, token, backoff(settings.outboundBackoffBaseMs, attempts))
      case 'error': {
        const error = { code: outcome.code ?? null, title: outcome.title, details: outcome.details ?? null }
        switch (outcome.errorClass) {
          case 'throttle-number': {
            // Throttling is not the message's fault: the attempt is given back.
            await prisma.message.update({
              where: { id: message.id },
              data: { status: 'QUEUED', nextAttemptAt: null, attempts: { decrement: 1 } },
            })
            const n = (job.data.numberThrottles ?? 0) + 1
            const pauseMs = Math.min(1_000 * 2 ** (n - 1), 5_000)
            await deps.limiter.pauseNumber(phone.phoneNumberId, pauseMs)
            return reschedule(job, token, pauseMs, { numberThrottles: n })
          }
          case 'throttle-pair': {
            await prisma.message.update({
              where: { id: message.id },
              data: { status: 'QUEUED', nextAttemptAt: null, attempts: { decrement: 1 } },
            })
            const n = (job.data.pairThrottles ?? 0) + 1
            const waitMs = Math.min(4 ** n * 1_000, 15 * 60_000)
            await deps.limiter.backOffPair(phone.phoneNumberId, to, waitMs)
            return reschedule(job, token, waitMs, { pairThrottles: n })
          }
          case 'throttle-app': {
            await prisma.message.update({
              where: { id: message.id },
              data: { status: 'QUEUED', nextAttemptAt: null, attempts: { decrement: 1 } },
            })
            return reschedule(
              job,
              token,
              backoff(settings.outboundBackoffBaseMs, (job.data.numberThrottles ?? 0) + 1),
            )
          }
          case 'transient':
            if (attempts >= settings.outboundMaxAttempts) return fail(ref, error)
            await requeue(message.id)
            return reschedule(job, token, backoff(settings.outboundBackoffBaseMs, attempts))
          case 'auth':
            await prisma.phoneNumber.update({ where: { id: phone.id }, data: { status: 'AUTH_INVALID' } })
            deps.log.error(
              { phoneNumberId: phone.phoneNumberId, code: outcome.code },
              'access token refused: number marked AUTH_INVALID',
            )
            return fail(ref, error)
          case 'opt-out':
            await prisma.contact.update({
              where: { id: message.conversation.contact.id },
              data: { optedOutAt: new Date(), optOutSource: 'meta_131050' },
            })
            return fail(ref, error)
          default:
            return fail(ref, error)
        }
      }
    }
  }
}

/** Exponential backoff with full jitter in [base·2^(n-1)/2, base·2^(n-1)]. */
export function backoff(baseMs: number, attempt: number): number {
  const ceiling = baseMs * 2 ** Math.max(0, attempt - 1)
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2))
}
