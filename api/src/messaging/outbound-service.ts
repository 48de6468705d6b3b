import { randomUUID } from 'node:crypto'
import type { Queue } from 'bullmq'
import { sql } from 'kysely'
import { isConnectionError, untilDeadline, withinDeadline } from '../db/dependency-outage.js'
import {
  ConflictError,
  DependencyUnavailableError,
  NotFoundError,
  UnprocessableError,
  ValidationError,
} from '../http/errors.js'
import { PreparedStatement, param, type TypedSql, timestampParam, utcTimestamp } from '../sql/typed-sql.js'
import { outboundJobOptions } from './outbound-queue.js'
import { messageContent, recipientDigits, requestHash, type SendMessageBody } from './outbound-request.js'

/** Meta's customer service window: free-form messages only while the user wrote within 24 hours. */
export const SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000

export interface AcceptedSend {
  id: string
  status: string
  /** True when an earlier request with the same Idempotency-Key created the message. */
  replay: boolean
}

interface Pending {
  organizationId: string
  body: SendMessageBody
  idempotencyKey: string | null
  hash: string | null
  waId: string
  templateName: string | null
  templateLanguage: string | null
  now: Date
  /** Epoch ms until which this request waits for PostgreSQL and Redis (dependency-outage.ts). */
  deadline: number
  /** Answered already (a batch that runs again skips it). */
  settled: boolean
  resolve(accepted: AcceptedSend): void
  reject(error: unknown): void
}

/** How far a batch got: once its write statement was sent, only sends with an Idempotency-Key may repeat. */
interface Progress {
  wrote: boolean
}

/** A send that passed every check and is inserted by the batch's one write statement. */
interface Insert {
  item: Pending
  id: string
  phoneId: string
  conversationId: string | null
}

/**
 * Accepts POST /api/v1/messages the way the webhook ingest stores deliveries: the requests of one
 * event-loop turn share one statement that reads everything they are checked against (number,
 * contact, conversation, template, an earlier message with the same Idempotency-Key), one statement
 * that writes their contacts, conversations and QUEUED messages and touches the conversations, and
 * one addBulk; each request is still answered with its own id or its own error, and a lone request
 * goes out at once (no timer). No transaction: every write meets concurrent ones (other requests,
 * other API processes) on a unique key with ON CONFLICT DO NOTHING, and a row that a concurrent
 * statement created after this one's snapshot is picked up by a second read, so an Idempotency-Key
 * still creates exactly one message.
 */
export class OutboundAcceptor {
  private pending: Pending[] = []
  private scheduled = false
  private inFlight = 0

  constructor(
    private readonly db: TypedSql,
    private readonly queue: Queue,
    private readonly maxBatch = 200,
    private readonly maxInFlight = 4,
    private readonly dependencyWaitMs = 0,
  ) {}

  accept(
    organizationId: string,
    body: SendMessageBody,
    idempotencyKey: string | undefined,
    now: Date = new Date(),
  ): Promise<AcceptedSend> {
    const content = messageContent(body)
    if (['image', 'document', 'audio', 'video'].includes(body.type) && !content.link && !content.id)
      return Promise.reject(new ValidationError(`body.${body.type} needs a link or an id`))
    const isTemplate = body.type === 'template'
    const deadline = Date.now() + this.dependencyWaitMs
    return new Promise<AcceptedSend>((resolve, reject) => {
      const item: Pending = {
        organizationId,
        body,
        idempotencyKey: idempotencyKey ?? null,
        hash: idempotencyKey ? requestHash(body) : null,
        waId: recipientDigits(body.to),
        templateName: isTemplate ? body.template.name : null,
        templateLanguage: isTemplate ? body.template.language.code : null,
        now,
        deadline,
        settled: false,
        resolve: (accepted) => {
          item.settled = true
          resolve(accepted)
        },
        reject: (error) => {
          item.settled = true
          reject(error)
        },
      }
      this.pending.push(item)
      this.schedule()
    })
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => this.flush())
  }

  /**
   * A batch that lost its database connection: every request whose send cannot have been stored twice runs
   * again in a later batch (until its deadline): all of them when the batch had only read, else those with an
   * Idempotency-Key, which the next batch finds stored (a replay) or stores. The others are answered 503.
   */
  private unreachable(batch: Pending[], error: unknown, progress: Progress): void {
    const again: Pending[] = []
    for (const item of batch) {
      if (item.settled) continue
      const repeatable = !progress.wrote || item.idempotencyKey !== null
      if (repeatable && Date.now() + 200 < item.deadline) again.push(item)
      else
        item.reject(
          error instanceof DependencyUnavailableError ? error : new DependencyUnavailableError('database'),
        )
    }
    if (again.length === 0) return
    setTimeout(() => {
      this.pending.unshift(...again)
      this.schedule()
    }, 200)
  }

  private flush(): void {
    this.scheduled = false
    // At most `maxInFlight` batches at a time: under load the next batch grows while these run, instead
    // of more batches queueing for the pool's few connections (and timing out waiting for one).
    while (this.pending.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.pending.splice(0, this.maxBatch)
      this.inFlight += 1
      const progress: Progress = { wrote: false }
      // Requests may have waited behind the batches in flight: their connection attempts get what is left.
      const deadline = Math.min(...batch.map((item) => item.deadline))
      withinDeadline(deadline, () => this.store(batch, progress))
        .catch((error: unknown) => {
          if (isConnectionError(error)) return this.unreachable(batch, error, progress)
          for (const item of batch) if (!item.settled) item.reject(error)
        })
        .finally(() => {
          this.inFlight -= 1
          if (this.pending.length > 0) this.schedule()
        })
    }
  }

  /** Redis commands wait while Redis is away (offline queue), until the batch's earliest deadline. */
  private queued<T>(items: Pending[], command: Promise<T>): Promise<T> {
    const deadline = Math.min(...items.map((item) => item.deadline))
    return untilDeadline(command, Math.max(deadline, Date.now() + 1_000), 'redis')
  }

  private async store(batch: Pending[], progress: Progress): Promise<void> {
    const found = await this.lookup(batch)
    const inserts: Insert[] = []
    const replays: Array<{ item: Pending; id: string; status: string }> = []
    // Within one batch a key is inserted once; the other requests with it are answered like replays.
    const keysInBatch = new Set<string>()
    const sameKeyLater: Pending[] = []
    batch.forEach((item, index) => {
      const row = found[index]
      try {
        if (row?.earlierId) {
          if (row.earlierHash !== item.hash) throw keyReusedWithOtherBody()
          replays.push({ item, id: row.earlierId, status: row.earlierStatus! })
          return
        }
        const checked = checkSend(item, row)
        if (item.idempotencyKey) {
          const key = `${item.organizationId}\n${item.idempotencyKey}`
          if (keysInBatch.has(key)) {
            sameKeyLater.push(item)
            return
          }
          keysInBatch.add(key)
        }
        inserts.push({ item, id: randomUUID(), ...checked })
      } catch (error) {
        item.reject(error)
      }
    })

    if (inserts.length > 0) progress.wrote = true
    const inserted = inserts.length > 0 ? await this.insert(inserts) : new Set<string>()
    const stored = inserts.filter((insert) => inserted.has(insert.id))
    // Not inserted: the key was taken by a concurrent request (answered with its message below), or
    // the contact or conversation appeared or was opted out after the batch read (checked one by one).
    const contested = [
      ...inserts.filter((insert) => !inserted.has(insert.id)).map((i) => i.item),
      ...sameKeyLater,
    ]
    const jobs = [
      ...stored.map((insert) => insert.id),
      ...replays.filter((replay) => replay.status === 'QUEUED').map((replay) => replay.id),
    ]
    // A replay of a message stored QUEUED whose enqueue failed (Redis outage) enqueues it again; the
    // job id is the message id, so this is a no-op when the job exists.
    if (jobs.length > 0)
      await this.queued(
        batch,
        this.queue.addBulk(
          jobs.map((id) => ({
            name: 'send',
            data: { messageId: id },
            opts: { ...outboundJobOptions, jobId: id },
          })),
        ),
      )
    for (const insert of stored) insert.item.resolve({ id: insert.id, status: 'queued', replay: false })
    for (const replay of replays)
      replay.item.resolve({ id: replay.id, status: replay.status.toLowerCase(), replay: true })
    if (contested.length > 0) await this.settleContested(contested)
  }

  /** One row per request, in batch order: what its checks need. */
  private async lookup(batch: Pending[]) {
    const rows = await LOOKUP.run(this.db, [
      batch.map((_, index) => index),
      batch.map((i) => i.organizationId),
      batch.map((i) => i.body.phoneNumberId),
      batch.map((i) => i.waId),
      batch.map((i) => i.templateName),
      batch.map((i) => i.templateLanguage),
      batch.map((i) => i.idempotencyKey),
    ])
    const byIndex: Array<(typeof rows)[number] | undefined> = []
    for (const row of rows) byIndex[row.idx] ??= row
    return byIndex
  }

  /** Contacts, conversations and messages of the checked sends in one statement; returns the stored ids. */
  private async insert(inserts: Insert[]): Promise<Set<string>> {
    const rows = await INSERT.run(this.db, [
      inserts.map((i) => i.id),
      inserts.map((i) => i.item.organizationId),
      inserts.map((i) => i.phoneId),
      inserts.map((i) => i.item.waId),
      inserts.map((i) => i.conversationId),
      inserts.map((i) => i.item.body.type),
      inserts.map((i) => JSON.stringify(messageContent(i.item.body))),
      inserts.map((i) => i.item.templateName),
      inserts.map((i) => i.item.templateLanguage),
      inserts.map((i) => i.item.idempotencyKey),
      inserts.map((i) => i.item.hash),
      timestampParam(inserts[0]!.item.now),
    ])
    return new Set(rows.map((row) => row.id))
  }

  /**
   * Requests whose message the batch statement did not store, one by one: the Idempotency-Key taken by
   * a concurrent request (its message is visible now: replay or conflict), or a contact opted out or
   * a conversation created concurrently, after the batch read (a fresh batch of one sees them).
   */
  private async settleContested(items: Pending[]): Promise<void> {
    // One after the other: contested sends are rare, and in parallel they would each take a connection.
    for (const item of items) {
      try {
        item.resolve(await this.acceptOne(item))
      } catch (error) {
        item.reject(error)
      }
    }
  }

  private async acceptOne(item: Pending): Promise<AcceptedSend> {
    // Each round sees what the concurrent statements that beat the previous one committed; three are
    // more than any interleaving needs (key taken -> replay; contact or conversation created -> found).
    for (let round = 0; round < 3; round++) {
      if (item.idempotencyKey) {
        const earlier = await this.db
          .selectFrom('Message')
          .where('organizationId', '=', item.organizationId)
          .where('idempotencyKey', '=', item.idempotencyKey)
          .select(['id', 'status', 'requestHash'])
          .executeTakeFirst()
        if (earlier) {
          if (earlier.requestHash !== item.hash) throw keyReusedWithOtherBody()
          if (earlier.status === 'QUEUED')
            await this.queued(
              [item],
              this.queue.add('send', { messageId: earlier.id }, { ...outboundJobOptions, jobId: earlier.id }),
            )
          return { id: earlier.id, status: earlier.status.toLowerCase(), replay: true }
        }
      }
      const [row] = await this.lookup([item])
      const id = randomUUID()
      const stored = await this.insert([{ item, id, ...checkSend(item, row) }])
      if (stored.has(id)) {
        await this.queued(
          [item],
          this.queue.add('send', { messageId: id }, { ...outboundJobOptions, jobId: id }),
        )
        return { id, status: 'queued', replay: false }
      }
    }
    throw new Error('send not stored after three rounds of concurrent changes')
  }
}

type LookupRow = {
  phoneId: string | null
  phoneStatus: string | null
  optedOutAt: Date | null
  conversationId: string | null
  lastInboundAt: string | null
  templateStatus: string | null
}

/** The checks of one send, in the documented order; the number's row id and the conversation if any. */
function checkSend(
  item: Pending,
  row: LookupRow | undefined,
): { phoneId: string; conversationId: string | null } {
  if (!row?.phoneId) throw new NotFoundError('phone number')
  if (row.phoneStatus !== 'ACTIVE')
    throw new ConflictError(
      'PHONE_NUMBER_UNAVAILABLE',
      `phone number is ${row.phoneStatus}: sends are refused`,
    )
  if (row.optedOutAt) throw optedOut()
  const { body, now } = item
  if (body.type !== 'template') {
    const last = utcTimestamp(row.lastInboundAt)
    // Only the user's own messages open the window; 24:00:00 after the last one is already outside.
    if (!last || now.getTime() - last.getTime() >= SERVICE_WINDOW_MS)
      throw new UnprocessableError(
        'OUTSIDE_SERVICE_WINDOW',
        'free-form messages need a message from the user in the last 24 hours: send a template',
        { lastInboundAt: last?.toISOString() ?? null },
      )
  }
  if (body.type === 'template' && row.templateStatus !== 'APPROVED')
    throw new UnprocessableError(
      'TEMPLATE_NOT_APPROVED',
      `template ${body.template.name} (${body.template.language.code}) is ${row.templateStatus ?? 'unknown'} for this number's WABA`,
    )
  return { phoneId: row.phoneId, conversationId: row.conversationId }
}

function optedOut(): ConflictError {
  return new ConflictError('CONTACT_OPTED_OUT', 'the contact has opted out')
}

function keyReusedWithOtherBody(): ConflictError {
  return new ConflictError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request')
}

/** The batch's requests as rows (one array parameter per column: the statement's text is fixed). */
const inputRows = sql<{
  idx: number
  organizationId: string
  phoneNumberId: string
  waId: string
  templateName: string | null
  templateLanguage: string | null
  idempotencyKey: string | null
}>`(SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
    AS t(idx, "organizationId", "phoneNumberId", "waId", "templateName", "templateLanguage", "idempotencyKey"))`

/** What each send of a batch is checked against: number, contact, conversation, template, an earlier key. */
const LOOKUP = new PreparedStatement('outbound-accept-lookup', (db) =>
  db
    .with('input', () => inputRows)
    .selectFrom('input')
    .leftJoin('PhoneNumber as p', (join) =>
      join
        .onRef('p.organizationId', '=', 'input.organizationId')
        .onRef('p.phoneNumberId', '=', 'input.phoneNumberId')
        .on('p.deletedAt', 'is', null),
    )
    .leftJoin('Contact as ct', (join) =>
      join.onRef('ct.organizationId', '=', 'input.organizationId').onRef('ct.waId', '=', 'input.waId'),
    )
    .leftJoin('Conversation as cv', (join) =>
      join.onRef('cv.phoneNumberId', '=', 'p.id').onRef('cv.contactId', '=', 'ct.id'),
    )
    .leftJoin('Template as t', (join) =>
      join
        .onRef('t.organizationId', '=', 'input.organizationId')
        .onRef('t.wabaId', '=', 'p.wabaId')
        .onRef('t.name', '=', 'input.templateName')
        .onRef('t.language', '=', 'input.templateLanguage'),
    )
    .leftJoin('Message as m', (join) =>
      join
        .onRef('m.organizationId', '=', 'input.organizationId')
        .onRef('m.idempotencyKey', '=', 'input.idempotencyKey'),
    )
    .select([
      'input.idx',
      'p.id as phoneId',
      'p.status as phoneStatus',
      'ct.optedOutAt',
      'cv.id as conversationId',
      sql<string | null>`cv."lastInboundAt"::text`.as('lastInboundAt'),
      't.status as templateStatus',
      'm.id as earlierId',
      'm.status as earlierStatus',
      'm.requestHash as earlierHash',
    ]),
)

const insertRows = sql<{
  id: string
  organizationId: string
  phoneId: string
  waId: string
  conversationId: string | null
  type: string
  content: string
  templateName: string | null
  templateLanguage: string | null
  idempotencyKey: string | null
  requestHash: string | null
}>`(SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
      $8::text[], $9::text[], $10::text[], $11::text[])
    AS t(id, "organizationId", "phoneId", "waId", "conversationId", type, content, "templateName",
      "templateLanguage", "idempotencyKey", "requestHash"))`
/** The batch's one instant ($12), as Prisma stores instants. */
const nowTs = param<Date>(12, 'timestamp')

/** Contacts, conversations and messages of the checked sends, and the conversations' touch. */
const INSERT = new PreparedStatement(
  'outbound-accept-insert',
  (db) =>
    db
      .with('input', () => insertRows)
      .with('newContact', (db) =>
        db
          .insertInto('Contact')
          .columns(['id', 'organizationId', 'waId', 'createdAt', 'updatedAt'])
          .expression(
            db
              .selectFrom('input')
              .where('input.conversationId', 'is', null)
              .distinctOn(['input.organizationId', 'input.waId'])
              .select([
                sql<string>`gen_random_uuid()::text`.as('id'),
                'input.organizationId',
                'input.waId',
                nowTs.as('createdAt'),
                nowTs.as('updatedAt'),
              ]),
          )
          .onConflict((oc) => oc.columns(['organizationId', 'waId']).doNothing())
          .returning(['Contact.id', 'Contact.organizationId', 'Contact.waId']),
      )
      // Contacts that existed before this statement (its snapshot) or were created by it; an opted-out
      // contact is left out, so its send inserts nothing and is refused by settleContested.
      .with('contact', (db) =>
        db
          .selectFrom('newContact')
          .select(['newContact.id', 'newContact.organizationId', 'newContact.waId'])
          .unionAll(
            db
              .selectFrom('Contact as c')
              .where('c.optedOutAt', 'is', null)
              .where(({ exists, selectFrom }) =>
                exists(
                  selectFrom('input')
                    .whereRef('input.organizationId', '=', 'c.organizationId')
                    .whereRef('input.waId', '=', 'c.waId')
                    .where('input.conversationId', 'is', null)
                    .select('input.id'),
                ),
              )
              .select(['c.id', 'c.organizationId', 'c.waId']),
          ),
      )
      .with('opening', (db) =>
        db
          .selectFrom('input')
          .innerJoin('contact', (join) =>
            join
              .onRef('contact.organizationId', '=', 'input.organizationId')
              .onRef('contact.waId', '=', 'input.waId'),
          )
          .where('input.conversationId', 'is', null)
          .select([
            'input.id as messageId',
            'input.organizationId',
            'input.phoneId',
            'contact.id as contactId',
          ]),
      )
      .with('newConversation', (db) =>
        db
          .insertInto('Conversation')
          .columns(['id', 'organizationId', 'phoneNumberId', 'contactId', 'createdAt', 'lastMessageAt'])
          .expression(
            db
              .selectFrom('opening')
              .distinctOn(['opening.phoneId', 'opening.contactId'])
              .select([
                sql<string>`gen_random_uuid()::text`.as('id'),
                'opening.organizationId',
                'opening.phoneId',
                'opening.contactId',
                nowTs.as('createdAt'),
                nowTs.as('lastMessageAt'),
              ]),
          )
          .onConflict((oc) => oc.columns(['phoneNumberId', 'contactId']).doNothing())
          .returning(['Conversation.id', 'Conversation.phoneNumberId', 'Conversation.contactId']),
      )
      .with('target', (db) =>
        db
          .selectFrom('input')
          .where('input.conversationId', 'is not', null)
          .select(['input.id as messageId', 'input.conversationId'])
          .unionAll(
            db
              .selectFrom('opening')
              .leftJoin('newConversation as nc', (join) =>
                join
                  .onRef('nc.phoneNumberId', '=', 'opening.phoneId')
                  .onRef('nc.contactId', '=', 'opening.contactId'),
              )
              .leftJoin('Conversation as ec', (join) =>
                join
                  .onRef('ec.phoneNumberId', '=', 'opening.phoneId')
                  .onRef('ec.contactId', '=', 'opening.contactId'),
              )
              .select(['opening.messageId', (eb) => eb.fn.coalesce('nc.id', 'ec.id').as('conversationId')]),
          ),
      )
      .with('inserted', (db) =>
        db
          .insertInto('Message')
          .columns([
            'id',
            'organizationId',
            'conversationId',
            'phoneNumberId',
            'direction',
            'type',
            'content',
            'templateName',
            'templateLanguage',
            'idempotencyKey',
            'requestHash',
            'status',
            'createdAt',
            'updatedAt',
          ])
          .expression(
            db
              .selectFrom('input')
              .innerJoin('target', 'target.messageId', 'input.id')
              .where('target.conversationId', 'is not', null)
              .select([
                'input.id',
                'input.organizationId',
                'target.conversationId',
                'input.phoneId',
                sql<'OUTBOUND'>`'OUTBOUND'::"Direction"`.as('direction'),
                'input.type',
                sql<unknown>`input.content::jsonb`.as('content'),
                'input.templateName',
                'input.templateLanguage',
                'input.idempotencyKey',
                'input.requestHash',
                sql<'QUEUED'>`'QUEUED'::"MessageStatus"`.as('status'),
                nowTs.as('createdAt'),
                nowTs.as('updatedAt'),
              ]),
          )
          .onConflict((oc) => oc.columns(['organizationId', 'idempotencyKey']).doNothing())
          .returning(['Message.id', 'Message.conversationId']),
      )
      // Only orders the conversation list: at most once a second per conversation, so a burst of sends
      // to one user does not queue on that row's lock; never moves it backwards.
      .with('touched', (db) =>
        db
          .updateTable('Conversation')
          .set({ lastMessageAt: nowTs })
          .where('Conversation.id', 'in', db.selectFrom('inserted').select('inserted.conversationId'))
          .where('Conversation.lastMessageAt', '<', sql<Date>`${nowTs} - interval '1 second'`)
          .returning('Conversation.id'),
      )
      .selectFrom('inserted')
      .select('inserted.id'),
  { planEachCall: true },
)
