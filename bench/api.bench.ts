import type { ChildProcess } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { startPostgres, startRedis } from '@whatsapp-saas/local-services'
import pg from 'pg'
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

// Service core: signed Meta webhook ingest (verify, INSERT ... ON CONFLICT, queue add, 200) and
// GET /health of ONE API process on real PostgreSQL and Redis, each next to a bare Fastify route in a
// separate process as the baseline; plus readyMs, from spawning the API to its first /health 200 (and
// readyCpuMs, the CPU it used by then), the median of READY_STARTS starts.
// Every webhook body is distinct (dedup must not short-circuit); stored rows are counted afterwards
// and any 2xx without its row is reported as `lost`. Bounded: DURATION_S of load per measurement.
function webhookBody(n: number): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              contacts: [{ profile: { name: 'Bench User' }, wa_id: '16505551234' }],
              messages: [
                {
                  from: '16505551234',
                  id: `wamid.bench.${process.pid}.${n}`,
                  timestamp: String(1_700_000_000 + n),
                  type: 'text',
                  text: { body: `benchmark message ${n} caf\u00e9` },
                },
              ],
            },
          },
        ],
      },
    ],
  })
}

/** Starts of the API after the first whose time to ready is measured (median and slowest reported). */
const READY_STARTS = 5

export default async function apiBenchmark(): Promise<BenchResult[]> {
  const [postgres, redis] = await Promise.all([startPostgres(), startRedis()])
  const children: ChildProcess[] = []
  try {
    const databaseUrl = await createMigratedDatabase(postgres, 'bench_api')

    const api = await startApi(databaseUrl, redis)
    children.push(api.child)
    const { port: apiPort, readyMs, readyCpuMs, runtime } = api
    // The compiled (bundled) server must serve more than /health: the admin status reads the shipped
    // migrations from disk next to the code and the database through Prisma.
    const status = await fetch(`http://127.0.0.1:${apiPort}/api/v1/status`, {
      headers: { authorization: `Bearer ${TEST_SECRETS.adminToken}` },
    })
    if (status.status !== 200) throw new Error(`GET /api/v1/status of the built server: ${status.status}`)
    const bare = await startBareFastify()
    children.push(bare.child)
    const barePort = bare.port

    const sampleBody = webhookBody(0)
    const bareIngest = await load({
      url: `http://127.0.0.1:${barePort}/bare`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: sampleBody,
    })
    const bareIngestRef = { name: 'bare-fastify-post', reqPerSec: Math.round(bareIngest.requests.average) }

    let sequence = 0
    const ingest = await load({
      url: `http://127.0.0.1:${apiPort}/webhooks/whatsapp`,
      requests: [
        {
          method: 'POST',
          setupRequest: (request) => {
            sequence += 1
            const body = webhookBody(sequence)
            const signature = `sha256=${createHmac('sha256', TEST_SECRETS.metaAppSecret).update(body).digest('hex')}`
            return {
              ...request,
              body,
              headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
            }
          },
        },
      ],
    })
    const counter = new pg.Client({ connectionString: databaseUrl })
    await counter.connect()
    const stored = Number((await counter.query('SELECT count(*) AS n FROM "InboundWebhook"')).rows[0].n)
    await counter.end()
    const acknowledged = ingest['2xx']

    const bareGet = await load({ url: `http://127.0.0.1:${barePort}/bare` })
    const health = await load({ url: `http://127.0.0.1:${apiPort}/health` })
    // After every load of this benchmark: the API's peak over ingest and health.
    const apiPeakRssMb = peakRssMb(api.child)

    // Time to ready, from more than one start: the first start above comes right after the databases
    // were made and migrated (cold page cache, PostgreSQL still writing), so one sample says little.
    // READY_STARTS more starts of the same build on the same databases, one at a time, on a machine
    // otherwise idle (the loads above are over); reported as median and slowest, with the first start.
    const starts: { readyMs: number; readyCpuMs: number | null }[] = []
    for (let i = 0; i < READY_STARTS; i++) {
      const again = await startApi(databaseUrl, redis)
      starts.push({ readyMs: again.readyMs, readyCpuMs: again.readyCpuMs })
      await stop(again.child)
    }
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!
    const readyMedianMs = median(starts.map((s) => s.readyMs))
    const cpuSamples = starts.flatMap((s) => (s.readyCpuMs === null ? [] : [s.readyCpuMs]))

    return [
      result('api.webhook-ingest', ingest, bareIngestRef, {
        acknowledged,
        stored,
        lost: Math.max(0, acknowledged - stored),
        connections: CONNECTIONS,
        durationS: DURATION_S,
        targets: { reqPerSec: 5_000, p99Ms: 30, peakRssMb: 200 },
        apiPeakRssMb,
        runtime,
      }),
      result(
        'api.health',
        health,
        { name: 'bare-fastify-get', reqPerSec: Math.round(bareGet.requests.average) },
        {
          connections: CONNECTIONS,
          durationS: DURATION_S,
          runtime,
        },
      ),
      {
        name: 'api.ready',
        reqPerSec: 0,
        p50Ms: readyMedianMs,
        p99Ms: Math.max(...starts.map((s) => s.readyMs)),
        errors: 0,
        baseline: null,
        readyMs: readyMedianMs,
        readyStartsMs: starts.map((s) => s.readyMs),
        firstStartReadyMs: readyMs,
        // CPU the start-up used (user + system): what the start costs, whatever else loads the machine.
        readyCpuMs: cpuSamples.length ? median(cpuSamples) : null,
        firstStartReadyCpuMs: readyCpuMs,
        targets: { readyMs: 1_000 },
        runtime,
      },
    ]
  } finally {
    await Promise.all(children.map(stop))
    await Promise.allSettled([postgres.stop(), redis.stop()])
  }
}
