import { type ChildProcess, spawn } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import pg from 'pg'
import { freePort, startPostgres, startRedis } from '../api/src/local-services/index.js'
import { applyMigrations, TEST_SECRETS } from '../api/test/harness/index.js'
import type { BenchResult } from './types.js'

// Service core: signed Meta webhook ingest (verify, INSERT ... ON CONFLICT, queue add, 200) and
// GET /health of ONE API process on real PostgreSQL and Redis, each next to a bare Fastify route in a
// separate process as the baseline; plus readyMs, from spawning the API to its first /health 200.
// Every webhook body is distinct (dedup must not short-circuit); stored rows are counted afterwards
// and any 2xx without its row is reported as `lost`. Bounded: DURATION_S of load per measurement.
const DURATION_S = 10
const CONNECTIONS = 50
const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** Newest modification time under a directory (generated code excluded). */
function newestMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'generated') continue
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }
  return newest
}

/** The compiled server when `npm run build -w api` is up to date with the sources, else tsx. */
function serverCommand(): { args: string[]; runtime: string } {
  const built = join(root, 'api', 'dist', 'server.js')
  if (existsSync(built) && statSync(built).mtimeMs >= newestMtime(join(root, 'api', 'src')))
    return { args: [built], runtime: 'node dist' }
  return { args: ['--import', 'tsx', join(root, 'api', 'src', 'server.ts')], runtime: 'tsx (api not built)' }
}

async function waitForHealth(url: string, timeoutMs: number): Promise<number> {
  const started = performance.now()
  while (performance.now() - started < timeoutMs) {
    try {
      const response = await fetch(url)
      if (response.status === 200) return performance.now()
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error(`${url} not healthy after ${timeoutMs} ms`)
}

const BARE_SERVER = `
import Fastify from 'fastify'
const app = Fastify()
app.get('/bare', async () => ({ status: 'ok' }))
app.post('/bare', async () => ({ status: 'queued' }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
`

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

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

async function load(options: autocannon.Options): Promise<autocannon.Result> {
  return autocannon({ connections: CONNECTIONS, duration: DURATION_S, ...options })
}

function result(
  name: string,
  run: autocannon.Result,
  baseline: { name: string; reqPerSec: number } | null,
  extra: Record<string, unknown> = {},
): BenchResult {
  return {
    name,
    reqPerSec: Math.round(run.requests.average),
    p50Ms: run.latency.p50,
    p99Ms: run.latency.p99,
    errors: run.errors + run.timeouts + run.non2xx,
    baseline,
    ...extra,
  }
}

export default async function apiBenchmark(): Promise<BenchResult[]> {
  const [postgres, redis] = await Promise.all([startPostgres(), startRedis()])
  const children: ChildProcess[] = []
  try {
    const admin = new pg.Client({ connectionString: postgres.url() })
    await admin.connect()
    await admin.query('CREATE DATABASE bench_api')
    await admin.end()
    const databaseUrl = postgres.url('bench_api')
    await applyMigrations(databaseUrl)

    const [apiPort, barePort] = await Promise.all([freePort(), freePort()])
    const { args, runtime } = serverCommand()
    const spawnedAt = performance.now()
    const api = spawn(process.execPath, args, {
      cwd: join(root, 'api'),
      stdio: 'ignore',
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: databaseUrl,
        REDIS_URL: redis.url,
        HOST: '127.0.0.1',
        PORT: String(apiPort),
        ADMIN_TOKEN: TEST_SECRETS.adminToken,
        META_APP_SECRET: TEST_SECRETS.metaAppSecret,
        META_VERIFY_TOKEN: TEST_SECRETS.metaVerifyToken,
        ENCRYPTION_KEY: TEST_SECRETS.encryptionKey.toString('base64'),
        LOG_LEVEL: 'warn',
      },
    })
    children.push(api)
    const readyMs = Math.round(
      (await waitForHealth(`http://127.0.0.1:${apiPort}/health`, 60_000)) - spawnedAt,
    )

    const bare = spawn(process.execPath, ['--input-type=module', '-e', BARE_SERVER], {
      cwd: root,
      stdio: 'ignore',
      env: { PATH: process.env.PATH ?? '', PORT: String(barePort) },
    })
    children.push(bare)
    await waitForHealth(`http://127.0.0.1:${barePort}/bare`, 30_000)

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

    return [
      result('api.webhook-ingest', ingest, bareIngestRef, {
        acknowledged,
        stored,
        lost: Math.max(0, acknowledged - stored),
        connections: CONNECTIONS,
        durationS: DURATION_S,
        targets: { reqPerSec: 5_000, p99Ms: 30 },
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
        p50Ms: readyMs,
        p99Ms: readyMs,
        errors: 0,
        baseline: null,
        readyMs,
        targets: { readyMs: 1_000 },
        runtime,
      },
    ]
  } finally {
    await Promise.all(children.map(stop))
    await Promise.allSettled([postgres.stop(), redis.stop()])
  }
}
