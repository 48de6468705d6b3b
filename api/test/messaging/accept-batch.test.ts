import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import pg from 'pg'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postgresClientConfig } from '../../src/db/tls.js'
import { OUTBOUND_QUEUE } from '../../src/messaging/outbound-queue.js'
import type { SendMessageBody } from '../../src/messaging/outbound-request.js'
import { OutboundAcceptor } from '../../src/messaging/outbound-service.js'
import { createTypedSql } from '../../src/sql/typed-sql.js'
import {
  startTestEnvironment,
  type TestApp,
  type TestEnvironment,
  type TestTenant,
} from '../harness/index.js'
import { ApiProcesses } from '../processes/index.js'
import { seedConversation, seedPhoneNumber, seedTemplate } from './fixtures.js'

let env: TestEnvironment
let t: TestApp
let mine: TestTenant
let theirs: TestTenant
let pool: pg.Pool
let connection: Redis
let queue: Queue
let acceptor: OutboundAcceptor
let statements = 0
let processes: ApiProcesses

const HOUR = 60 * 60 * 1000
const template = (name = 'hello_world') =>
  ({ type: 'template', template: { name, language: { code: 'en_US' } } }) as const
const text = (phoneNumberId: string, to: string, body = 'hi'): SendMessageBody => ({
  phoneNumberId,
  to,
  type: 'text',
  text: { body },
})

beforeAll(async () => {
  env = await startTestEnvironment()
  t = await env.startApp()
  mine = await t.createTenant()
  theirs = await t.createTenant()
  const phone = await seedPhoneNumber(t.prisma, mine.organizationId, '7000001')
  const disabled = await seedPhoneNumber(t.prisma, mine.organizationId, '7000002')
  await t.prisma.phoneNumber.update({ where: { id: disabled.id }, data: { status: 'DISABLED' } })
  await seedPhoneNumber(t.prisma, theirs.organizationId, '7000009', { wabaId: '900000000000009' })
  await seedTemplate(t.prisma, mine.organizationId, {
    name: 'hello_world',
    language: 'en_US',
    status: 'APPROVED',
  })
  await seedTemplate(t.prisma, theirs.organizationId, {
    name: 'hello_world',
    language: 'en_US',
    status: 'APPROVED',
    wabaId: '900000000000009',
  })
  await seedConversation(
    t.prisma,
    mine.organizationId,
    phone.id,
    '4917000000001',
    new Date(Date.now() - HOUR),
  )
  await seedConversation(
    t.prisma,
    mine.organizationId,
    phone.id,
    '4917000000002',
    new Date(Date.now() - 25 * HOUR),
  )
  await seedConversation(t.prisma, mine.organizationId, phone.id, '4917000000003', new Date(), true)

  pool = new pg.Pool({ ...postgresClientConfig(t.databaseUrl, env.postgres.caFile), max: 4 })
  pool.on('acquire', () => {
    statements += 1
  })
  connection = new Redis(env.redis.url, { ...env.redis.clientOptions, maxRetriesPerRequest: null })
  queue = new Queue(OUTBOUND_QUEUE, { connection })
  acceptor = new OutboundAcceptor(createTypedSql(pool), queue)
  processes = new ApiProcesses(env)
}, 300_000)
afterAll(async () => {
  await processes?.stopAll()
  await queue?.close()
  await connection?.quit()
  await pool?.end()
  await t?.close()
  await env?.stop()
})

/** The outcome of each call, in order: its id or its error code. */
async function settle(calls: Array<Promise<{ id: string; replay: boolean }>>) {
  return (await Promise.allSettled(calls)).map((outcome) =>
    outcome.status === 'fulfilled'
      ? { id: outcome.value.id, replay: outcome.value.replay }
      : { error: (outcome.reason as { code?: string }).code ?? String(outcome.reason) },
  )
}

describe('send accept batched per event-loop turn', () => {
  it('answers every request of one batch with its own id or its own error', async () => {
    const [earlier] = await settle([
      acceptor.accept(mine.organizationId, text('7000001', '4917000000001', 'first'), 'used-key'),
    ])
    expect(earlier).toMatchObject({ replay: false })

    statements = 0
    const org = mine.organizationId
    // Called in one turn, so they share one batch.
    const outcomes = await settle([
      acceptor.accept(org, text('7000001', '4917000000001'), undefined),
      acceptor.accept(org, text('7000001', '+4917000000002'), undefined),
      acceptor.accept(org, text('7000404', '4917000000001'), undefined),
      acceptor.accept(org, text('7000009', '4917000000001'), undefined),
      acceptor.accept(org, text('7000002', '4917000000001'), undefined),
      acceptor.accept(
        org,
        { phoneNumberId: '7000001', to: '4917000000004', ...template('missing') },
        undefined,
      ),
      acceptor.accept(org, text('7000001', '4917000000001', 'first'), 'used-key'),
      acceptor.accept(org, text('7000001', '4917000000001', 'other'), 'used-key'),
      acceptor.accept(org, { phoneNumberId: '7000001', to: '4917000000005', ...template() }, 'new-key'),
      acceptor.accept(org, { phoneNumberId: '7000001', to: '4917000000005', ...template() }, 'new-key'),
      acceptor.accept(org, { phoneNumberId: '7000001', to: '4917000000006', ...template() }, undefined),
      acceptor.accept(org, { phoneNumberId: '7000001', to: '4917000000006', ...template() }, undefined),
      acceptor.accept(org, { phoneNumberId: '7000001', to: '4917000000003', ...template() }, undefined),
      acceptor.accept(
        theirs.organizationId,
        { phoneNumberId: '7000009', to: '4917000000001', ...template() },
        'used-key',
      ),
    ])
    expect(outcomes.map((o) => ('error' in o ? o.error : o.replay ? 'replay' : 'queued'))).toEqual([
      'queued',
      'OUTSIDE_SERVICE_WINDOW',
      'NOT_FOUND',
      'NOT_FOUND', // another tenant's number
      'PHONE_NUMBER_UNAVAILABLE',
      'TEMPLATE_NOT_APPROVED',
      'replay',
      'IDEMPOTENCY_KEY_REUSED',
      'queued',
      'replay',
      'queued',
      'queued',
      'CONTACT_OPTED_OUT',
      'queued', // keys are per tenant
    ])
    const ids = outcomes.map((o) => ('id' in o ? o.id : undefined))
    expect(ids[6]).toBe((earlier as { id: string }).id)
    expect(ids[9]).toBe(ids[8])
    const created = [ids[0], ids[8], ids[10], ids[11], ids[13]] as string[]
    expect(new Set(created).size).toBe(5)
    // One read and one write for the batch, plus one read for the second use of a key inside it.
    expect(statements).toBeLessThanOrEqual(3)

    const rows = await t.prisma.message.findMany({ where: { id: { in: created } } })
    expect(rows.map((row) => [row.id, row.status, row.organizationId]).sort()).toEqual(
      created.map((id, i) => [id, 'QUEUED', i === 4 ? theirs.organizationId : mine.organizationId]).sort(),
    )
    for (const id of created) expect(await queue.getJob(id)).toBeTruthy()
    // Two first sends to one new user in one batch share one new contact and conversation.
    const contacts = await t.prisma.contact.findMany({
      where: { organizationId: mine.organizationId, waId: '4917000000006' },
      include: { conversations: true },
    })
    expect(contacts).toHaveLength(1)
    expect(contacts[0]!.conversations).toHaveLength(1)
    expect(
      rows.filter((row) => row.id === ids[10] || row.id === ids[11]).map((row) => row.conversationId),
    ).toEqual([contacts[0]!.conversations[0]!.id, contacts[0]!.conversations[0]!.id])
  })

  it('stores one message per Idempotency-Key when two API processes take the same requests at once', async () => {
    const ports = await Promise.all([processes.start(t.databaseUrl), processes.start(t.databaseUrl)])
    const post = async (port: number, body: unknown, key?: string) => {
      const response = await request(`http://127.0.0.1:${port}/api/v1/messages`, {
        method: 'POST',
        headers: {
          ...mine.headers,
          'content-type': 'application/json',
          ...(key ? { 'idempotency-key': key } : {}),
        },
        body: JSON.stringify(body),
      })
      return {
        status: response.statusCode,
        body: (await response.body.json()) as { id?: string; error?: { code: string } },
      }
    }
    const KEYS = 40
    const calls: Array<Promise<{ key: string; status: number; id?: string; code?: string }>> = []
    for (let i = 0; i < KEYS; i++) {
      // Every key reaches both processes three times; all go to first-time recipients, and pairs of
      // keys share a recipient, so contacts and conversations are created concurrently too.
      const body = {
        phoneNumberId: '7000001',
        to: `49171${String(Math.floor(i / 2)).padStart(8, '0')}`,
        ...template(),
      }
      for (const port of [...ports, ...ports, ...ports])
        calls.push(
          post(port, body, `mp-${i}`).then((r) => ({ key: `mp-${i}`, status: r.status, id: r.body.id })),
        )
    }
    // The same key with another body, racing the others: refused, never stored.
    for (const port of ports)
      calls.push(
        post(port, text('7000001', '4917000000001', 'another body'), 'mp-0').then((r) => ({
          key: 'conflict',
          status: r.status,
          code: r.body.error?.code,
        })),
      )
    const answers = await Promise.all(calls)

    const byKey = new Map<string, Set<string>>()
    for (const answer of answers.filter((a) => a.key !== 'conflict')) {
      expect([200, 202]).toContain(answer.status)
      byKey.set(answer.key, (byKey.get(answer.key) ?? new Set()).add(answer.id!))
    }
    expect([...byKey.values()].every((ids) => ids.size === 1)).toBe(true)
    expect(answers.filter((a) => a.key !== 'conflict' && a.status === 202)).toHaveLength(KEYS)
    for (const conflict of answers.filter((a) => a.key === 'conflict'))
      expect(conflict).toMatchObject({ status: 409, code: 'IDEMPOTENCY_KEY_REUSED' })

    const stored = await t.prisma.message.findMany({
      where: { organizationId: mine.organizationId, idempotencyKey: { startsWith: 'mp-' } },
    })
    expect(stored).toHaveLength(KEYS)
    expect(new Set(stored.map((m) => m.id))).toEqual(new Set([...byKey.values()].map((ids) => [...ids][0])))
    const conversations = await t.prisma.conversation.findMany({
      where: { organizationId: mine.organizationId, contact: { waId: { startsWith: '49171' } } },
    })
    expect(conversations).toHaveLength(KEYS / 2)
  }, 300_000)
})
