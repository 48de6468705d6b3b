import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { setPriority } from 'node:os'
import { join } from 'node:path'
import { freePort, startPostgres, startRedis } from '@whatsapp-saas/local-services'
import type { Redis } from 'ioredis'
import { createPrismaClient } from '../api/src/db/prisma.js'
import { closeRedis, createRedisClient } from '../api/src/db/redis.js'
import type { RecordedRequest } from '../api/src/fake-graph/request-log.js'
import { outboundJobOptions } from '../api/src/messaging/outbound-queue.js'
import { QUEUE_NAMES } from '../api/src/queues/names.js'
import { createQueue } from '../api/src/queues/producer.js'
import { seedPhoneNumber, seedQueuedTemplateSends, seedTemplate } from '../api/test/messaging/fixtures.js'
import { maxInRollingWindow } from '../api/test/messaging/rate-window.js'
import {
  cpuMs,
  createMigratedDatabase,
  peakRssMb,
  root,
  serverCommand,
  serviceEnv,
  stop,
} from './service-process.js'
import type { BenchResult } from './types.js'

// Messaging engine: the per-number send pace. NUMBERS phone numbers with a limit of LIMIT_MPS each get
// SECONDS × LIMIT_MPS queued template sends apiece (stored QUEUED and enqueued as the accept path does),
// then ONE worker process (started first, BENCH_PACE_WORKERS for more) sends them to the fake Graph API, which emulates Meta's own per-number
// throttle (130429). From the fake's arrival times, per number: the busiest rolling second (must stay
// ≤ the limit) and the average pace from first to last send (target ≥ 95 % of the limit).
// The fake is the measuring instrument (its clock stamps the arrivals and counts Meta's rolling
// second), so it runs in a process of its own at a higher scheduling priority where allowed: Meta's
// clock does not share our CPUs. In this process, on a saturated two-core host, its event loop lagged
// by up to ~40 ms, which compresses a second at the fake as a burst of our own would.
// The baseline is the limit itself: what a sender that used all of it would reach.
const NUMBERS = 10
const LIMIT_MPS = 80
const SECONDS = 10
const WORKER_CONCURRENCY = 256
/** Worker processes (BENCH_PACE_WORKERS, default 1): the limiter is shared in Redis, so two add up. */
const WORKERS = Number(process.env.BENCH_PACE_WORKERS ?? 1)

/** Resolves once `count` connections named `name` (the workers' consumers) are connected to Redis. */
async function waitForConsumers(redis: Redis, name: string, count: number): Promise<void> {
  const deadline = performance.now() + 60_000
  while (performance.now() < deadline) {
    const clients = (await redis.client('LIST')) as string
    if (clients.split('\n').filter((line) => line.includes(` name=${name} `)).length >= count) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`${count} worker(s) not connected after 60 s`)
}

/** The fake Graph API in its own process (see above), with the default hello_world template. */
async function startFakeGraph(): Promise<{
  child: ChildProcess
  url: string
  priority: string
  sends(): Promise<RecordedRequest[]>
}> {
  const port = await freePort()
  const { args } = serverCommand('fake-graph/main')
  const child = spawn(process.execPath, args, {
    cwd: join(root, 'api'),
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      PATH: process.env.PATH,
      FAKE_GRAPH_PORT: String(port),
      FAKE_GRAPH_THROUGHPUT_MPS: String(LIMIT_MPS),
      FAKE_GRAPH_MAX_RECORDED: String(NUMBERS * LIMIT_MPS * SECONDS * 2),
      FAKE_GRAPH_ENFORCE_SERVICE_WINDOW: 'false',
    },
  })
  const listening = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening on')) resolve()
    })
    once(child, 'exit').then(([code]) => reject(new Error(`fake graph api exited with ${code}`)))
  })
  await listening
  let priority = 'raised (nice -10)'
  try {
    setPriority(child.pid as number, -10)
  } catch {
    priority = 'normal (raising it is not permitted here)'
  }
  const url = `http://127.0.0.1:${port}`
  return {
    child,
    url,
    priority,
    async sends() {
      const response = await fetch(`${url}/__fake/requests?path=/messages`)
      return ((await response.json()) as { requests: RecordedRequest[] }).requests
    },
  }
}

export default async function messagingPaceBenchmark(): Promise<BenchResult[]> {
  const [postgres, redis] = await Promise.all([startPostgres(), startRedis()])
  const workers: ChildProcess[] = []
  const fake = await startFakeGraph()
  try {
    const databaseUrl = await createMigratedDatabase(postgres, 'bench_pace')
    const prisma = createPrismaClient(databaseUrl)
    const organization = await prisma.organization.create({ data: { name: 'pace', slug: 'pace' } })
    await seedTemplate(prisma, organization.id, {
      name: 'hello_world',
      language: 'en_US',
      status: 'APPROVED',
    })

    const perNumber = LIMIT_MPS * SECONDS
    const numbers: string[] = []
    const perNumberIds: string[][] = []
    for (let n = 0; n < NUMBERS; n++) {
      const graphId = String(7_000_000 + n)
      numbers.push(graphId)
      const phone = await seedPhoneNumber(prisma, organization.id, graphId, { throughputMps: LIMIT_MPS })
      const waIds = Array.from({ length: perNumber }, (_, i) => `49160${n}${String(i).padStart(6, '0')}`)
      perNumberIds.push(await seedQueuedTemplateSends(prisma, organization.id, phone.id, waIds))
    }
    // Interleave the numbers in the queue, as many tenants' sends would arrive.
    const messageIds = Array.from({ length: perNumber }, (_, i) => perNumberIds.map((ids) => ids[i]!)).flat()
    const connection = createRedisClient(redis.url, 'bench-pace', undefined, redis.caFile)
    const queue = createQueue(QUEUE_NAMES.outbound, connection)

    // The workers run before the sends arrive, as in service: what is measured is the sender's pace,
    // not the process start (measured on its own as "ready after start").
    const { args, runtime } = serverCommand('worker')
    // BENCH_WORKER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the workers.
    const nodeArgs = process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? []
    for (let w = 0; w < WORKERS; w++)
      workers.push(
        spawn(process.execPath, [...nodeArgs, ...args], {
          cwd: join(root, 'api'),
          // BENCH_WORKER_LOG=1 shows the worker's log (warnings and errors) on this terminal.
          stdio: process.env.BENCH_WORKER_LOG ? 'inherit' : 'ignore',
          env: {
            ...serviceEnv(databaseUrl, redis),
            GRAPH_API_BASE_URL: fake.url,
            WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
          },
        }),
      )
    await queue.waitUntilReady()
    await waitForConsumers(connection, `worker-${QUEUE_NAMES.outbound}`, WORKERS)

    const cpuBefore = workers.map((w) => cpuMs(w) ?? 0)
    const started = performance.now()
    await queue.addBulk(
      messageIds.map((messageId) => ({
        name: 'send',
        data: { messageId },
        opts: { ...outboundJobOptions, jobId: messageId },
      })),
    )
    const deadline = started + 120_000
    let sent = 0
    while (performance.now() < deadline) {
      sent = await prisma.message.count({ where: { status: 'SENT' } })
      if (sent === messageIds.length) break
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    // CPU the workers spent on the sends (start-up excluded): the figure that load on a shared
    // machine does not change, unlike the pace.
    const workerCpuMs = workers.reduce((sum, w, i) => sum + (cpuMs(w) ?? 0) - cpuBefore[i]!, 0)
    const workerPeakRssMb = Math.max(...workers.map((w) => peakRssMb(w) ?? 0))
    await queue.close()
    await closeRedis(connection)
    await prisma.$disconnect()

    const calls = await fake.sends()
    if (process.env.BENCH_PACE_DUMP) writeFileSync(process.env.BENCH_PACE_DUMP, JSON.stringify(calls))
    const throttled = calls.filter((c) => c.errorCode === 130429).length
    const pace = numbers.map((graphId) => {
      const times = calls
        .filter((c) => c.phoneNumberId === graphId && c.httpStatus === 200)
        .map((c) => c.at)
        .sort((a, b) => a - b)
      const spanS = times.length > 1 ? (times.at(-1)! - times[0]!) / 1000 : 0
      return {
        phoneNumberId: graphId,
        sends: times.length,
        busiestSecond: maxInRollingWindow(times),
        averageMps: spanS > 0 ? Math.round(((times.length - 1) / spanS) * 10) / 10 : 0,
      }
    })
    const averages = pace.map((p) => p.averageMps)
    const totalSpanS = (Math.max(...calls.map((c) => c.at)) - Math.min(...calls.map((c) => c.at))) / 1000
    return [
      {
        name: 'messaging.send-pace',
        reqPerSec: Math.round(sent / Math.max(totalSpanS, 0.001)),
        p50Ms: 0,
        p99Ms: 0,
        errors: throttled + (messageIds.length - sent),
        baseline: { name: 'limit-per-number', reqPerSec: LIMIT_MPS },
        numbers: NUMBERS,
        limitMps: LIMIT_MPS,
        queued: messageIds.length,
        sent,
        throttledByMeta: throttled,
        minAverageMps: Math.min(...averages),
        maxAverageMps: Math.max(...averages),
        maxBusiestSecond: Math.max(...pace.map((p) => p.busiestSecond)),
        perNumber: pace,
        workerConcurrency: WORKER_CONCURRENCY,
        fakeGraphPriority: fake.priority,
        workers: WORKERS,
        targets: { busiestSecondMax: LIMIT_MPS, averageMpsMin: LIMIT_MPS * 0.95, peakRssMb: 200 },
        workerPeakRssMb,
        workerCpuMsPerSend: Math.round((workerCpuMs / Math.max(sent, 1)) * 1000) / 1000,
        runtime,
      },
    ]
  } finally {
    await Promise.all(workers.map(stop))
    await stop(fake.child)
    await Promise.allSettled([postgres.stop(), redis.stop()])
  }
}
