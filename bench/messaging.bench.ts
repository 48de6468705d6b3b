import type { ChildProcess } from 'node:child_process'
import { startPostgres, startRedis } from '@whatsapp-saas/local-services'
import { createPrismaClient } from '../api/src/db/prisma.js'
import { seedDemo } from '../api/src/tenancy/seed-demo.js'
import { TEST_SECRETS } from '../api/test/harness/index.js'
import {
  CONNECTIONS,
  createMigratedDatabase,
  DURATION_S,
  load,
  peakRssMb,
  result,
  startApi,
  startBareFastify,
  stop,
} from './service-process.js'
import type { BenchResult } from './types.js'

// Messaging engine: enqueue throughput of POST /api/v1/messages on ONE API process (no worker runs, so
// this is the accept path alone: tenant checks, the QUEUED row, the BullMQ job), next to a bare Fastify
// POST in the same run. Template sends to distinct recipients, so the 24-hour window and the pair limit
// play no part. Accepted requests are counted against the QUEUED rows and the queue's jobs afterwards.
// The per-number send pace is not measured here: it is asserted by api/test/messaging (two processes,
// limit held from the fake Graph API's recorded timestamps).
const WABA_ID = '200000000000001'
const PHONE_NUMBER_ID = '100000000000001'

export default async function messagingBenchmark(): Promise<BenchResult[]> {
  const [postgres, redis] = await Promise.all([startPostgres(), startRedis()])
  const children: ChildProcess[] = []
  try {
    const databaseUrl = await createMigratedDatabase(postgres, 'bench_messaging')

    const prisma = createPrismaClient(databaseUrl)
    const demo = await seedDemo(prisma, {
      graphPhoneNumberId: PHONE_NUMBER_ID,
      wabaId: WABA_ID,
      accessToken: 'bench-access-token',
      encryptionKey: TEST_SECRETS.encryptionKey,
    })
    await prisma.template.create({
      data: {
        organizationId: demo.organizationId,
        wabaId: WABA_ID,
        name: 'hello_world',
        language: 'en_US',
        category: 'UTILITY',
        status: 'APPROVED',
        components: [],
        syncedAt: new Date(),
      },
    })

    const api = await startApi(databaseUrl, redis)
    children.push(api.child)
    const bare = await startBareFastify()
    children.push(bare.child)

    const sample = JSON.stringify({ phoneNumberId: PHONE_NUMBER_ID, to: '4915100000000', type: 'text' })
    const bareRun = await load({
      url: `http://127.0.0.1:${bare.port}/bare`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: sample,
    })

    let recipient = 0
    const enqueue = await load({
      url: `http://127.0.0.1:${api.port}/api/v1/messages`,
      requests: [
        {
          method: 'POST',
          setupRequest: (request) => {
            recipient += 1
            return {
              ...request,
              headers: { 'content-type': 'application/json', authorization: `Bearer ${demo.apiKey}` },
              body: JSON.stringify({
                phoneNumberId: PHONE_NUMBER_ID,
                to: String(4_915_100_000_000 + recipient),
                type: 'template',
                template: { name: 'hello_world', language: { code: 'en_US' } },
              }),
            }
          },
        },
      ],
    })
    const apiPeakRssMb = peakRssMb(api.child)
    const queued = await prisma.message.count({ where: { status: 'QUEUED', direction: 'OUTBOUND' } })
    await prisma.$disconnect()

    return [
      result(
        'messaging.enqueue',
        enqueue,
        { name: 'bare-fastify-post', reqPerSec: Math.round(bareRun.requests.average) },
        {
          accepted: enqueue['2xx'],
          queued,
          lost: Math.max(0, enqueue['2xx'] - queued),
          connections: CONNECTIONS,
          durationS: DURATION_S,
          targets: { reqPerSec: 2_000, p99Ms: 50, peakRssMb: 200 },
          apiPeakRssMb,
          runtime: api.runtime,
        },
      ),
    ]
  } finally {
    await Promise.all(children.map(stop))
    await Promise.allSettled([postgres.stop(), redis.stop()])
  }
}
