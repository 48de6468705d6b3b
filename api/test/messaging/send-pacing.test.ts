import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFakeGraph, type FakeGraph } from '../../src/fake-graph/index.js'
import { OUTBOUND_QUEUE, outboundJobOptions } from '../../src/messaging/outbound-queue.js'
import {
  startTestEnvironment,
  type TestApp,
  type TestEnvironment,
  type TestTenant,
} from '../harness/index.js'
import { serviceProcessEnv } from './api-process-spawn.js'
import {
  recordingHooks,
  seedPhoneNumber,
  seedQueuedTemplateSends,
  startOutboundWorker,
  waitFor,
} from './fixtures.js'
import { maxInRollingWindow } from './rate-window.js'

// The pacing rule: at most `throughputMps` calls of a number reach Meta in any rolling second, counted
// where Meta counts them (the fake Graph API's request log, throttled calls included), however the
// senders' processes and event loops behave. What is asserted is that count, never a speed.

const LIMIT_MPS = 40
let env: TestEnvironment
let fake: FakeGraph
let t: TestApp
let tenant: TestTenant
let producer: Redis
let queue: Queue
let numbers = 0

beforeAll(async () => {
  env = await startTestEnvironment()
  fake = await createFakeGraph({
    limits: { throughputMps: LIMIT_MPS },
    enforceServiceWindow: false,
    enforceTemplates: false,
  })
  t = await env.startApp({ graphApiBaseUrl: fake.url })
  tenant = await t.createTenant()
  producer = new Redis(env.redis.url, { ...env.redis.clientOptions, maxRetriesPerRequest: null })
  queue = new Queue(OUTBOUND_QUEUE, { connection: producer })
})
afterAll(async () => {
  await queue?.close()
  await producer?.quit()
  await t?.close()
  await fake?.close()
  await env?.stop()
})

/** A number at LIMIT_MPS with `count` template sends stored QUEUED, as accepted sends are (see enqueue). */
async function storeSends(count: number): Promise<{ phoneNumberId: string; ids: string[] }> {
  numbers += 1
  const phoneNumberId = `630000${numbers}`
  const phone = await seedPhoneNumber(t.prisma, tenant.organizationId, phoneNumberId, {
    throughputMps: LIMIT_MPS,
  })
  const waIds = Array.from({ length: count }, (_, i) => `4917${numbers}${String(i).padStart(6, '0')}`)
  const ids = await seedQueuedTemplateSends(t.prisma, tenant.organizationId, phone.id, waIds)
  return { phoneNumberId, ids }
}

/** Enqueues stored sends, as the accept path does (job id = message id). */
async function enqueue(ids: string[]): Promise<void> {
  await queue.addBulk(
    ids.map((messageId) => ({
      name: 'send',
      data: { messageId },
      opts: { ...outboundJobOptions, jobId: messageId },
    })),
  )
}

const callsOf = (phoneNumberId: string) =>
  fake.state.requests.list({ path: '/messages' }).filter((c) => c.phoneNumberId === phoneNumberId)

async function allSent(ids: string[]): Promise<void> {
  await waitFor(
    () => t.prisma.message.count({ where: { id: { in: ids }, status: 'SENT' } }),
    (n) => n === ids.length,
    60_000,
  )
}

/** Each message reached Meta exactly once, and no rolling second of the number saw more than the limit. */
function expectPacedExactlyOnce(phoneNumberId: string, ids: string[]): void {
  const calls = callsOf(phoneNumberId)
  expect(calls.filter((c) => c.errorCode === 130429)).toEqual([])
  expect(calls).toHaveLength(ids.length)
  expect(new Set(calls.map((c) => c.callbackData))).toEqual(new Set(ids))
  expect(maxInRollingWindow(calls.map((c) => c.at))).toBeLessThanOrEqual(LIMIT_MPS)
}

/** Holds this process's event loop, as a long GC pause or a CPU-starved host would. */
function blockEventLoop(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // busy: no timer, socket or promise of this process runs meanwhile
  }
}

describe('send pacing', () => {
  it('does not let calls whose slots passed while the process stalled leave together', async () => {
    const worker = await startOutboundWorker({
      prisma: t.prisma,
      sql: t.app.deps.sql,
      redis: env.redis,
      graphUrl: fake.url,
      hooks: recordingHooks(),
      concurrency: 64,
    })
    try {
      const { phoneNumberId, ids } = await storeSends(3 * LIMIT_MPS)
      await enqueue(ids)
      // Stalls while slots are reserved ahead: the calls due meanwhile must take new slots, not all
      // leave at once when the loop resumes.
      await waitFor(
        async () => callsOf(phoneNumberId).length,
        (n) => n >= LIMIT_MPS / 2,
      )
      blockEventLoop(400)
      await waitFor(
        async () => callsOf(phoneNumberId).length,
        (n) => n >= (3 * LIMIT_MPS) / 2,
      )
      blockEventLoop(400)
      await allSent(ids)
      expectPacedExactlyOnce(phoneNumberId, ids)
    } finally {
      await worker.close()
    }
  }, 90_000)

  it('holds each number to its limit across two worker processes sharing the Redis limiter', async () => {
    // Stored first, so that this process (where the fake counts arrivals) is idle while they are
    // sent; enqueued once both workers consume the queue, so that both take part.
    const sends = [await storeSends(4 * LIMIT_MPS), await storeSends(4 * LIMIT_MPS)]
    const workers = [await startWorkerProcess(), await startWorkerProcess()]
    try {
      await enqueue(sends.flatMap(({ ids }) => ids))
      for (const { ids } of sends) await allSent(ids)
      for (const { phoneNumberId, ids } of sends) expectPacedExactlyOnce(phoneNumberId, ids)
    } finally {
      await Promise.all(workers.map(stopProcess))
    }
  }, 120_000)
})

/** The production worker entry (src/worker.ts) as its own process; resolves once it consumes the queue. */
async function startWorkerProcess(): Promise<ChildProcess> {
  const before = await consumers()
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('../../src/worker.ts', import.meta.url))],
    {
      env: serviceProcessEnv({
        databaseUrl: t.databaseUrl,
        redisUrl: env.redis.url,
        redisCaFile: env.redis.caFile,
        graphUrl: fake.url,
        env: {
          WORKER_CONCURRENCY: '32',
          // Arrivals are timed by the fake inside this process, which shares the cores with the other test
          // files: a margin below the limit keeps that timing noise out of the bound under test. Two
          // processes without the shared limiter would still send 1.7 times the limit.
          OUTBOUND_RATE_UTILIZATION_PERCENT: '85',
        },
      }),
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  )
  await waitFor(consumers, (n) => n > before, 60_000)
  return child
}

/** Connections of outbound workers to the test Redis. */
async function consumers(): Promise<number> {
  const clients = (await producer.client('LIST')) as string
  return clients.split('\n').filter((line) => line.includes(` name=worker-${OUTBOUND_QUEUE} `)).length
}

function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}
