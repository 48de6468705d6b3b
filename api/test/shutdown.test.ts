import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, waitForPort } from '@whatsapp-saas/local-services'
import { Queue } from 'bullmq'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { createQueueConnection } from '../src/db/redis.js'
import { shutdownGracefully } from '../src/shutdown.js'
import { startWorkers } from '../src/worker-runtime.js'
import { startTestEnvironment, TEST_SECRETS, type TestEnvironment } from './harness/index.js'

const apiDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsx = join(apiDir, '..', 'node_modules', '.bin', 'tsx')

let env: TestEnvironment
beforeAll(async () => {
  env = await startTestEnvironment()
})
afterAll(async () => {
  await env?.stop()
})

describe('graceful shutdown of the API', () => {
  it('finishes every in-flight request while readiness already answers 503', async () => {
    const config = env.config({ databaseUrl: await env.createDatabase() })
    const app = await buildApp(config)
    let inFlight = 0
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    app.get('/test/slow', async () => {
      inFlight += 1
      await gate
      return { ok: true }
    })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    const port = typeof address === 'object' && address ? address.port : 0

    const concurrent = 40
    const responses = Array.from({ length: concurrent }, () =>
      request(`http://127.0.0.1:${port}/test/slow`).then(async (response) => ({
        status: response.statusCode,
        body: await response.body.json(),
      })),
    )
    for (let i = 0; i < 500 && inFlight < concurrent; i++)
      await new Promise((resolve) => setTimeout(resolve, 10))
    expect(inFlight).toBe(concurrent)

    const closing = shutdownGracefully(app)
    const readiness = await app.inject({ method: 'GET', url: '/health' })
    expect(readiness.statusCode).toBe(503)
    release()
    const results = await Promise.all(responses)
    await closing
    expect(results.filter((r) => r.status !== 200)).toEqual([])
    expect(results.every((r) => (r.body as { ok: boolean }).ok)).toBe(true)
    await expect(app.deps.redis.ping()).rejects.toThrow()
  })

  // Generous timeouts: starting a TypeScript process takes long on a busy machine.
  it('exits 0 on SIGTERM as a process', { timeout: 180_000 }, async () => {
    const port = await freePort()
    const child = spawnServer({ PORT: String(port), DATABASE_URL: await env.createDatabase() })
    try {
      await waitForPort(port, 110_000)
      const health = await request(`http://127.0.0.1:${port}/health`)
      expect(health.statusCode).toBe(200)
      await health.body.dump()
      child.kill('SIGTERM')
      const [code] = await once(child, 'exit')
      expect(code).toBe(0)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  })
})

describe('configuration errors', () => {
  it('print one line naming the variable and exit 1', { timeout: 180_000 }, async () => {
    const child = spawnServer({ ADMIN_TOKEN: '', ENCRYPTION_KEY: 'dG9vLXNob3J0' })
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const [code] = await once(child, 'exit')
    expect(code).toBe(1)
    const lines = stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^configuration error: ADMIN_TOKEN /)
  })
})

describe('graceful shutdown of the worker', () => {
  it('lets a running job finish before closing', async () => {
    const config = env.config({ databaseUrl: await env.createDatabase() })
    let started = false
    let finished = false
    const running = await startWorkers(config, [
      {
        queue: 'test-slow',
        create: () => async () => {
          started = true
          await new Promise((resolve) => setTimeout(resolve, 500))
          finished = true
        },
      },
    ])
    const connection = createQueueConnection(config.redisUrl, 'test-producer', undefined, config.redisCaFile)
    const queue = new Queue('test-slow', { connection })
    await queue.add('slow', {})
    for (let i = 0; i < 500 && !started; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(started).toBe(true)
    await running.close()
    expect(finished).toBe(true)
    await queue.close()
    connection.disconnect()
  })
})

function spawnServer(overrides: Record<string, string>): ChildProcess {
  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    DATABASE_URL: env.postgres.url(),
    REDIS_URL: env.redis.url,
    REDIS_CA_FILE: env.redis.caFile,
    HOST: '127.0.0.1',
    PORT: '0',
    ADMIN_TOKEN: TEST_SECRETS.adminToken,
    META_APP_SECRET: TEST_SECRETS.metaAppSecret,
    META_VERIFY_TOKEN: TEST_SECRETS.metaVerifyToken,
    ENCRYPTION_KEY: TEST_SECRETS.encryptionKey.toString('base64'),
    LOG_LEVEL: 'warn',
  }
  return spawn(tsx, [join(apiDir, 'src', 'server.ts')], {
    cwd: apiDir,
    env: { ...baseEnv, ...overrides },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
}
