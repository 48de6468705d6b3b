import { type ChildProcess, spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import { startTestEnvironment, type TestApp, type TestEnvironment } from '@whatsapp-saas/api/test-harness'
import { freePort, waitForPort } from '@whatsapp-saas/local-services'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { account, graphRequests } from '../../src/drill/accounting.js'
import type { Ledger } from '../../src/drill/load.js'
import { summarize } from '../../src/drill/load.js'

// The drill's measurement on small real pieces: a migrated PostgreSQL with the rows a drill leaves, and the
// fake Graph API (a real process) whose request log shows what Meta received.

const repoRoot = resolve(import.meta.dirname, '..', '..', '..')
const TOKEN = 'EAAG-drill-accounting-token'
const PHONE = '100000000000077'
let environment: TestEnvironment
let app: TestApp
let fakeGraph: ChildProcess
let fakeGraphUrl: string
let db: pg.Client

beforeAll(async () => {
  environment = await startTestEnvironment()
  app = await environment.startApp()
  const port = await freePort()
  fakeGraph = spawn(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'api', 'src', 'fake-graph', 'main.ts')],
    {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, FAKE_GRAPH_PORT: String(port), FAKE_GRAPH_ACCESS_TOKEN: TOKEN },
      stdio: 'ignore',
    },
  )
  await waitForPort(port, 30_000)
  fakeGraphUrl = `http://127.0.0.1:${port}`
  db = new pg.Client({ connectionString: app.databaseUrl })
  await db.connect()
})

afterAll(async () => {
  await db?.end()
  fakeGraph?.kill('SIGKILL')
  await environment?.stop()
})

/** What the worker does for one message: one Graph send carrying our id as biz_opaque_callback_data. */
async function sendToMeta(id: string, to: string) {
  const response = await fetch(`${fakeGraphUrl}/v23.0/${PHONE}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      messaging_product: 'whatsapp',
      to,
      type: 'text',
      text: { body: 'hi' },
      biz_opaque_callback_data: id,
    }),
  })
  expect(response.status).toBe(200)
}

describe('drill accounting', () => {
  it('counts acknowledged-but-lost, duplicates, double sends, and what is only late', async () => {
    const tenant = await app.createTenant('drill')
    const phone = await app.prisma.phoneNumber.create({
      data: {
        organizationId: tenant.organizationId,
        wabaId: '200000000000077',
        phoneNumberId: PHONE,
        displayPhoneNumber: '15550000077',
        accessTokenEnc: 'not used here',
      },
    })
    const contact = await app.prisma.contact.create({
      data: { organizationId: tenant.organizationId, waId: '15556000001' },
    })
    const conversation = await app.prisma.conversation.create({
      data: { organizationId: tenant.organizationId, phoneNumberId: phone.id, contactId: contact.id },
    })
    const message = (direction: 'INBOUND' | 'OUTBOUND', body: string, extra: Record<string, string> = {}) =>
      app.prisma.message.create({
        data: {
          organizationId: tenant.organizationId,
          conversationId: conversation.id,
          phoneNumberId: phone.id,
          direction,
          type: 'text',
          content: { body },
          status: direction === 'INBOUND' ? 'RECEIVED' : 'QUEUED',
          ...extra,
        } as never,
      })

    // Three accepted sends; the second one stored twice (a resend that lost its key), the third never at Meta.
    const m1 = await message('OUTBOUND', '[drill r#1]', { idempotencyKey: 'k1' })
    const m2 = await message('OUTBOUND', '[drill r#2]', { idempotencyKey: 'k2' })
    await message('OUTBOUND', '[drill r#2]')
    const m3 = await message('OUTBOUND', '[drill r#3]', { idempotencyKey: 'k3' })
    // Inbound: one processed, one stored raw and waiting for the worker, one acknowledged and gone.
    await message('INBOUND', 'hello', { wamid: 'wamid.drill.in1' })
    await app.prisma.inboundWebhook.create({
      data: { bodySha256: 'f'.repeat(64), raw: { entry: [{ id: 'wamid.drill.in2' }] } },
    })
    // Meta got m1 twice (a double send) and m2 once.
    await sendToMeta(m1.id, '15556000001')
    await sendToMeta(m1.id, '15556000001')
    await sendToMeta(m2.id, '15556000001')

    const ledger: Ledger = {
      sends: [
        { id: m1.id, key: 'k1', to: '15556000001', marker: '[drill r#1]' },
        { id: m2.id, key: 'k2', to: '15556000001', marker: '[drill r#2]' },
        { id: m3.id, key: 'k3', to: '15556000001', marker: '[drill r#3]' },
        { id: 'cm-acknowledged-then-gone', key: 'k4', to: '15556000001', marker: '[drill r#4]' },
      ],
      inbound: ['wamid.drill.in1', 'wamid.drill.in2', 'wamid.drill.in3'],
    }
    const result = await account(db, ledger, await graphRequests(fakeGraphUrl))
    expect(result).toEqual({
      acknowledgedSends: 4,
      acknowledgedInbound: 3,
      lost: 2,
      lostIds: ['cm-acknowledged-then-gone', 'wamid.drill.in3'],
      duplicates: 1,
      doubleSends: 1,
      doubleSentIds: [m1.id],
      notYetSent: 1,
      inboundPending: 1,
    })
  })

  it('attributes requests to the fault during which they started, with failures by cause', () => {
    const samples = [
      { kind: 'read' as const, at: 1_000, ms: 10, status: 200 },
      { kind: 'send' as const, at: 2_000, ms: 900, status: 202 },
      { kind: 'inbound' as const, at: 2_500, ms: 5, status: 502 },
      { kind: 'read' as const, at: 2_600, ms: 10_000, error: 'UND_ERR_HEADERS_TIMEOUT' },
      { kind: 'read' as const, at: 4_000, ms: 10, status: 200 },
    ]
    expect(summarize(samples, 2_000, 4_000)).toEqual({
      sent: 3,
      failed: 2,
      failures: { '502': 1, UND_ERR_HEADERS_TIMEOUT: 1 },
      p50Ms: 900,
      p99Ms: 900,
      maxMs: 900,
      maxMsByKind: { send: 900, inbound: 5 },
    })
  })
})
