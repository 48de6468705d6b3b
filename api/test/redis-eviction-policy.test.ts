import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type RedisServer, startRedis } from '@whatsapp-saas/local-services'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { StartupError } from '../src/db/redis.js'
import { startWorkers } from '../src/worker-runtime.js'
import { startTestEnvironment, TEST_SECRETS, type TestEnvironment } from './harness/index.js'

// BullMQ needs maxmemory-policy noeviction: the API and the worker refuse to start on any other
// policy unless REDIS_EVICTION_POLICY_CHECK=warn.

const apiDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsx = join(apiDir, '..', 'node_modules', '.bin', 'tsx')

let env: TestEnvironment
let lru: RedisServer

beforeAll(async () => {
  ;[env, lru] = await Promise.all([startTestEnvironment(), startRedis()])
  // ElastiCache's default.redis7 has volatile-lru; allkeys-lru evicts just the same.
  const admin = new Redis(lru.url, lru.clientOptions)
  await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
  admin.disconnect()
})
afterAll(async () => {
  await Promise.allSettled([env?.stop(), lru?.stop()])
})

describe('Redis eviction policy at start', () => {
  it('the API refuses to start on a Redis with allkeys-lru, with one clear line', async () => {
    const started = env.startApp({ redisUrl: lru.url, redisCaFile: lru.caFile })
    await expect(started).rejects.toBeInstanceOf(StartupError)
    await expect(started).rejects.toThrow(
      /^Redis maxmemory-policy is allkeys-lru, BullMQ needs noeviction .*REDIS_EVICTION_POLICY_CHECK=warn/,
    )
  })

  it('the worker refuses too', async () => {
    const config = env.config({ redisUrl: lru.url, redisCaFile: lru.caFile })
    await expect(startWorkers(config, [])).rejects.toThrow(/maxmemory-policy is allkeys-lru/)
  })

  it('REDIS_EVICTION_POLICY_CHECK=warn starts anyway', async () => {
    const t = await env.startApp({
      redisUrl: lru.url,
      redisCaFile: lru.caFile,
      redisEvictionPolicyCheck: 'warn',
    })
    expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200)
    await t.close()
    expect(
      loadConfig({ ...requiredEnv(), REDIS_EVICTION_POLICY_CHECK: 'warn' }).redisEvictionPolicyCheck,
    ).toBe('warn')
    expect(() => loadConfig({ ...requiredEnv(), REDIS_EVICTION_POLICY_CHECK: 'off' })).toThrow(
      /REDIS_EVICTION_POLICY_CHECK must be one of enforce, warn/,
    )
  })

  it('the server process exits 1 printing one line', { timeout: 60_000 }, async () => {
    const child = spawn(tsx, [join(apiDir, 'src', 'server.ts')], {
      cwd: apiDir,
      env: { ...requiredEnv(), PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const [code] = await once(child, 'exit')
    expect(code).toBe(1)
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^startup error: Redis maxmemory-policy is allkeys-lru, BullMQ needs noeviction/),
    ])
  })
})

function requiredEnv(): Record<string, string> {
  return {
    DATABASE_URL: env.postgres.url(),
    REDIS_URL: lru.url,
    REDIS_CA_FILE: lru.caFile,
    ADMIN_TOKEN: TEST_SECRETS.adminToken,
    META_APP_SECRET: TEST_SECRETS.metaAppSecret,
    META_VERIFY_TOKEN: TEST_SECRETS.metaVerifyToken,
    ENCRYPTION_KEY: TEST_SECRETS.encryptionKey.toString('base64'),
    LOG_LEVEL: 'warn',
  }
}
