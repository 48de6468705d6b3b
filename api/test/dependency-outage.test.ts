import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import {
  type PostgresServer,
  type RedisServer,
  startPostgres,
  startRedis,
} from '@whatsapp-saas/local-services'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  applyMigrations,
  signMetaBody,
  startTestEnvironment,
  type TestApp,
  type TestEnvironment,
  type TestTenant,
} from './harness/index.js'
import { seedConversation, seedPhoneNumber } from './messaging/fixtures.js'
import { envelope, messagesChange } from './meta-fixtures.js'

// PostgreSQL or Redis stopped for a few seconds under a steady stream of requests (reads, sends with an
// Idempotency-Key, signed Meta webhooks), with the service's own connections: requests wait for the dependency
// and succeed once it is back; none is answered 500; what was acknowledged is stored.

const PASSWORD = 'outage-test-password'
const RECIPIENTS = 20
const PHONE_NUMBER_ID = '700000000000001'

let env: TestEnvironment
let root: string
let postgres: PostgresServer
let redis: RedisServer
let databaseUrl: string
let t: TestApp
let tenant: TestTenant

const pgOptions = () => ({
  dataDir: join(root, 'postgres'),
  password: PASSWORD,
  tlsDir: dirname(env.postgres.caFile),
})
const redisOptions = () => ({
  dir: join(root, 'redis'),
  persistent: true,
  password: PASSWORD,
  tlsDir: dirname(env.redis.caFile),
})

beforeAll(async () => {
  env = await startTestEnvironment()
  root = mkdtempSync(join(tmpdir(), 'wa-outage-'))
  chmodSync(root, 0o755) // PostgreSQL runs as its own user when the tests run as root
  postgres = await startPostgres(pgOptions())
  redis = await startRedis(redisOptions())
  const admin = new pg.Client({ connectionString: postgres.url() })
  await admin.connect()
  await admin.query('CREATE DATABASE outage')
  await admin.end()
  databaseUrl = postgres.url('outage')
  await applyMigrations(databaseUrl)
  t = await env.startApp({
    databaseUrl,
    databaseCaFile: postgres.caFile,
    redisUrl: redis.url,
    redisCaFile: redis.caFile,
  })
  tenant = await t.createTenant()
  const phone = await seedPhoneNumber(t.prisma, tenant.organizationId, PHONE_NUMBER_ID)
  for (let i = 0; i < RECIPIENTS; i++)
    await seedConversation(t.prisma, tenant.organizationId, phone.id, recipient(i), new Date())
}, 120_000)

afterAll(async () => {
  await t?.close()
  await Promise.allSettled([postgres?.stop(), redis?.stop()])
  await env?.stop()
  if (root) rmSync(root, { recursive: true, force: true })
}, 60_000)

const recipient = (i: number) => `1555700${String(i).padStart(4, '0')}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Answer {
  kind: 'read' | 'send' | 'inbound'
  /** Epoch ms the request was made. */
  at: number
  status: number
  retryAfter?: string
  sendId?: string
  wamid?: string
}

/** One request every `everyMs`, round robin over the three kinds, until stop() (which awaits every answer). */
function steadyRequests(run: string, everyMs = 40) {
  const answers: Answer[] = []
  const inFlight: Promise<void>[] = []
  let n = 0
  const one = async () => {
    const i = n++
    const at = Date.now()
    const kind = (['read', 'send', 'inbound'] as const)[i % 3]!
    if (kind === 'read') {
      const r = await t.app.inject({
        method: 'GET',
        url: '/api/v1/messages?limit=1',
        headers: tenant.headers,
      })
      answers.push({
        kind,
        at,
        status: r.statusCode,
        retryAfter: r.headers['retry-after'] as string | undefined,
      })
    } else if (kind === 'send') {
      const r = await t.app.inject({
        method: 'POST',
        url: '/api/v1/messages',
        headers: { ...tenant.headers, 'idempotency-key': `${run}-${i}` },
        payload: {
          phoneNumberId: PHONE_NUMBER_ID,
          to: recipient(i % RECIPIENTS),
          type: 'text',
          text: { body: `${run} ${i}` },
        },
      })
      answers.push({
        kind,
        at,
        status: r.statusCode,
        retryAfter: r.headers['retry-after'] as string | undefined,
        sendId: r.statusCode < 300 ? (r.json() as { id: string }).id : undefined,
      })
    } else {
      const wamid = `wamid.${run}.${i}`
      const body = JSON.stringify(
        envelope([
          {
            changes: [
              messagesChange(PHONE_NUMBER_ID, [
                {
                  wamid,
                  from: recipient(i % RECIPIENTS),
                  body: 'hi',
                  timestamp: Math.floor(Date.now() / 1000),
                },
              ]),
            ],
          },
        ]),
      )
      const r = await t.app.inject({
        method: 'POST',
        url: '/webhooks/whatsapp',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaBody(body) },
        payload: body,
      })
      answers.push({
        kind,
        at,
        status: r.statusCode,
        retryAfter: r.headers['retry-after'] as string | undefined,
        wamid,
      })
    }
  }
  const timer = setInterval(() => inFlight.push(one()), everyMs)
  return {
    answers,
    async stop() {
      clearInterval(timer)
      await Promise.all(inFlight)
      return answers
    },
  }
}

/** Every answer 2xx, or 503 with Retry-After (the bounded wait ran out): never a 500. */
function unexpected(answers: Answer[]): Answer[] {
  return answers.filter(
    (a) => !(a.status >= 200 && a.status < 300) && !(a.status === 503 && a.retryAfter !== undefined),
  )
}

/** Acknowledged sends and deliveries that the database does not hold. */
async function lost(answers: Answer[]): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const sendIds = answers.flatMap((a) => (a.sendId ? [a.sendId] : []))
    const wamids = answers.flatMap((a) => (a.wamid && a.status < 300 ? [a.wamid] : []))
    const stored = await client.query<{ id: string }>('SELECT id FROM "Message" WHERE id = ANY($1::text[])', [
      sendIds,
    ])
    const found = new Set(stored.rows.map((r) => r.id))
    const inbound = await client.query<{ raw: string }>('SELECT raw::text AS raw FROM "InboundWebhook"')
    const bodies = inbound.rows.map((r) => r.raw).join('\n')
    return [...sendIds.filter((id) => !found.has(id)), ...wamids.filter((w) => !bodies.includes(`"${w}"`))]
  } finally {
    await client.end()
  }
}

const restartPostgres = async () => {
  postgres = await startPostgres({ ...pgOptions(), port: postgres.port })
}
const restartRedis = async () => {
  redis = await startRedis({ ...redisOptions(), port: redis.port })
}

// The same outage, the same expectations, for each dependency. Sends and deliveries queue jobs in Redis,
// and every request reads PostgreSQL: whichever is down, all three kinds must be held until it is back.
const OUTAGES = [
  {
    dependency: 'PostgreSQL',
    run: 'pg',
    health: 'database',
    stop: () => postgres.stop(),
    restart: restartPostgres,
  },
  { dependency: 'Redis', run: 'redis', health: 'redis', stop: () => redis.stop(), restart: restartRedis },
] as const

describe('a dependency down for a few seconds under requests', { timeout: 120_000 }, () => {
  it.each(OUTAGES)(
    '$dependency stopped: requests wait for it, no 500, nothing acknowledged is lost',
    async (outage) => {
      const load = steadyRequests(outage.run)
      await sleep(800)
      await outage.stop()
      const down = Date.now()
      await sleep(3_000)
      // While it is down, health says so (the load balancer's view), and it is bounded by its own timeout.
      const health = await t.app.inject({ method: 'GET', url: '/health' })
      expect([health.statusCode, health.json()[outage.health]]).toEqual([503, 'disconnected'])
      const restarting = Date.now()
      await outage.restart()
      await sleep(1_000)
      const answers = await load.stop()
      expect(unexpected(answers)).toEqual([])
      expect(await lost(answers)).toEqual([])
      // Requests made while it was down were held until it came back, not refused: every kind succeeded.
      const heldThrough = answers.filter((a) => a.at > down && a.at < restarting && a.status < 300)
      expect(new Set(heldThrough.map((a) => a.kind))).toEqual(new Set(['read', 'send', 'inbound']))
    },
  )

  it('past the bound: 503 with Retry-After, never 500', async () => {
    const impatient = await env.startApp({
      databaseUrl,
      databaseCaFile: postgres.caFile,
      redisUrl: redis.url,
      redisCaFile: redis.caFile,
      dependencyWaitMs: 300,
    })
    try {
      await postgres.stop()
      const read = await impatient.app.inject({
        method: 'GET',
        url: '/api/v1/messages?limit=1',
        headers: tenant.headers,
      })
      expect([read.statusCode, read.json().error.code]).toEqual([503, 'DEPENDENCY_UNAVAILABLE'])
      expect(Number(read.headers['retry-after'])).toBeGreaterThan(0)
    } finally {
      await restartPostgres()
      await impatient.close()
    }
  })
})
