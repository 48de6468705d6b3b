import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { type CompiledQuery, Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPrismaClient, type PrismaClient } from '../../src/db/prisma.js'
import { createFakeGraph, type FakeGraph } from '../../src/fake-graph/index.js'
import { OUTBOUND_QUEUE, outboundJobOptions } from '../../src/messaging/outbound-queue.js'
import type { DB } from '../../src/sql/typed-sql.js'
import { startTestEnvironment, type TestEnvironment } from '../harness/index.js'
import {
  recordingHooks,
  seedPhoneNumber,
  seedQueuedTemplateSends,
  seedTemplate,
  startOutboundWorker,
  waitFor,
} from './fixtures.js'

// The sender's batch statements find their Message rows by primary key, whatever the statistics say.
// On statistics that lag a burst of new sends (no ANALYZE since the rows arrived), a `wamid IS NULL`
// on the updated table led PostgreSQL to scan the wamid index and join it row by row to the batch:
// seconds per statement. Here every statement the sender ran is explained again on such a table
// (autovacuum off, never analyzed): none may read Message through its wamid index.

const SENDS = 400

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  Plans?: PlanNode[]
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)]
}

let env: TestEnvironment
let fake: FakeGraph
let prisma: PrismaClient
let pool: pg.Pool
const statements: CompiledQuery[] = []

beforeAll(async () => {
  env = await startTestEnvironment()
  fake = await createFakeGraph({ enforceServiceWindow: false, enforceTemplates: false })
  const databaseUrl = await env.createDatabase()
  prisma = createPrismaClient(databaseUrl, { maxConnections: 5, caFile: env.postgres.caFile })
  pool = new pg.Pool({ connectionString: databaseUrl, max: 8 })
  await pool.query(`ALTER TABLE "Message" SET (autovacuum_enabled = false)`)
}, 120_000)

afterAll(async () => {
  await pool?.end()
  await prisma?.$disconnect()
  await fake?.close()
  await env?.stop()
})

describe('the sender on stale statistics', () => {
  it('finds the rows of every batch statement by key, never through the wamid index', async () => {
    const organization = await prisma.organization.create({ data: { name: 'plans', slug: 'plans' } })
    await seedTemplate(prisma, organization.id, {
      name: 'hello_world',
      language: 'en_US',
      status: 'APPROVED',
    })
    const phone = await seedPhoneNumber(prisma, organization.id, '7100000', { throughputMps: 1_000 })
    const waIds = Array.from({ length: SENDS }, (_, i) => `49170${String(i).padStart(7, '0')}`)
    const ids = await seedQueuedTemplateSends(prisma, organization.id, phone.id, waIds)

    const sql = new Kysely<DB>({
      dialect: new PostgresDialect({ pool }),
      log(event) {
        if (event.level === 'query') statements.push(event.query)
      },
    })
    const worker = await startOutboundWorker({
      prisma,
      sql,
      redis: env.redis,
      graphUrl: fake.url,
      hooks: recordingHooks(),
      concurrency: 64,
    })
    const connection = new Redis(env.redis.url, env.redis.clientOptions)
    const queue = new Queue(OUTBOUND_QUEUE, { connection })
    try {
      await queue.addBulk(
        ids.map((messageId) => ({
          name: 'send',
          data: { messageId },
          opts: { ...outboundJobOptions, jobId: messageId },
        })),
      )
      await waitFor(
        () => prisma.message.count({ where: { status: 'SENT' } }),
        (sent) => sent === SENDS,
        60_000,
      )
    } finally {
      await worker.close()
      await queue.close()
      await connection.quit()
    }

    const writes = [...new Map(statements.map((q) => [q.sql, q])).values()].filter((q) =>
      /update "Message"/i.test(q.sql),
    )
    // The claim, the call record and the answer at least: the test is not vacuous.
    expect(writes.length).toBeGreaterThanOrEqual(3)
    for (const write of writes) {
      const { rows } = await pool.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
        `EXPLAIN (FORMAT JSON) ${write.sql}`,
        write.parameters as unknown[],
      )
      const nodes = nodesOf(rows[0]!['QUERY PLAN'][0]!.Plan)
      const viaWamid = nodes.filter((node) => node['Index Name'] === 'Message_wamid_key')
      expect(viaWamid, write.sql).toEqual([])
    }
  }, 120_000)
})
