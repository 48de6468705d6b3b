import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createFakeGraph, type FakeGraph } from '../../src/fake-graph/index.js'
import {
  startTestEnvironment,
  TEST_SECRETS,
  type TestApp,
  type TestEnvironment,
  type TestTenant,
} from '../harness/index.js'
import { GRAPH_TOKEN, seedPhoneNumber, seedTemplate } from './fixtures.js'

export interface ApiProcess {
  child: ChildProcess
  port: number
}

export interface ServiceProcessOptions {
  databaseUrl: string
  redisUrl: string
  /** CA of the test Redis's TLS certificate. */
  redisCaFile: string
  graphUrl: string
  env?: Record<string, string>
}

/** Environment of a service process in these tests: the test databases, the test secrets, a fake Graph API. */
export function serviceProcessEnv(options: ServiceProcessOptions): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    REDIS_CA_FILE: options.redisCaFile,
    ADMIN_TOKEN: TEST_SECRETS.adminToken,
    META_APP_SECRET: TEST_SECRETS.metaAppSecret,
    META_VERIFY_TOKEN: TEST_SECRETS.metaVerifyToken,
    ENCRYPTION_KEY: TEST_SECRETS.encryptionKey.toString('base64'),
    GRAPH_API_BASE_URL: options.graphUrl,
    LOG_LEVEL: 'error',
    ...options.env,
  }
}

/** Spawns api-process.ts (an API replica with its workers) and resolves with its port once it listens. */
export function startApiProcess(options: ServiceProcessOptions): Promise<ApiProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./api-process.ts', import.meta.url))],
    {
      env: serviceProcessEnv({
        ...options,
        env: {
          PORT: '0',
          HOST: '127.0.0.1',
          RATE_LIMIT_PER_MINUTE: '1000000',
          WORKER_CONCURRENCY: '8',
          ...options.env,
        },
      }),
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`api process exited with ${code ?? signal}`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^listening (\d+)$/.exec(line)
      if (match) resolve({ child, port: Number(match[1]) })
      else process.stderr.write(`${line}\n`)
    })
  })
}

/** SIGTERM (graceful) unless the process is gone already; resolves once it exited. */
export function stopApiProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

/**
 * What the multi-process tests share: the test services, the fake Graph API, an in-process app for
 * reads, a tenant with its numbers (at `limitMps`) and the approved hello_world template, and
 * `count` API+worker processes on them with the given environment.
 */
export async function startProcessFleet(options: {
  numbers: string[]
  limitMps: number
  count: number
  env?: Record<string, string>
}): Promise<{
  env: TestEnvironment
  fake: FakeGraph
  t: TestApp
  tenant: TestTenant
  processes: ApiProcess[]
  close(): Promise<void>
}> {
  const env = await startTestEnvironment()
  const fake = await createFakeGraph({ accessToken: GRAPH_TOKEN, appSecret: TEST_SECRETS.metaAppSecret })
  const t = await env.startApp({ graphApiBaseUrl: fake.url })
  const tenant = await t.createTenant()
  for (const id of options.numbers)
    await seedPhoneNumber(t.prisma, tenant.organizationId, id, { throughputMps: options.limitMps })
  await seedTemplate(t.prisma, tenant.organizationId, {
    name: 'hello_world',
    language: 'en_US',
    status: 'APPROVED',
  })
  const processes = await Promise.all(
    Array.from({ length: options.count }, () =>
      startApiProcess({
        databaseUrl: t.databaseUrl,
        redisUrl: env.redis.url,
        redisCaFile: env.redis.caFile,
        graphUrl: fake.url,
        ...(options.env ? { env: options.env } : {}),
      }),
    ),
  )
  return {
    env,
    fake,
    t,
    tenant,
    processes,
    async close() {
      await Promise.all(processes.map((p) => stopApiProcess(p.child)))
      await t.close()
      await fake.close()
      await env.stop()
    },
  }
}
