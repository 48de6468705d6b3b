import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  freePort,
  type PostgresServer,
  postgresBinDir,
  type RedisServer,
  startPostgres,
  startRedis,
} from '@whatsapp-saas/local-services'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postgresClientConfig } from '../src/db/tls.js'

// The local services (local target and test harness) enforce what RDS (rds.force_ssl=1) and
// ElastiCache (transit encryption, AUTH token) enforce.

const run = promisify(execFile)
let postgres: PostgresServer
let redis: RedisServer

beforeAll(async () => {
  ;[postgres, redis] = await Promise.all([startPostgres(), startRedis()])
})
afterAll(async () => {
  await Promise.allSettled([postgres?.stop(), redis?.stop()])
})

async function connect(config: pg.ClientConfig): Promise<string> {
  const client = new pg.Client({ ...config, connectionTimeoutMillis: 5_000 })
  client.on('error', () => {})
  try {
    await client.connect()
    const { rows } = await client.query<{ ssl: boolean }>(
      'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    )
    return rows[0]?.ssl ? 'tls' : 'plain'
  } catch (error) {
    return `refused: ${(error as Error).message}`
  } finally {
    await client.end().catch(() => {})
  }
}

describe('local PostgreSQL', () => {
  const plain = () => ({
    host: '127.0.0.1',
    port: postgres.port,
    user: 'postgres',
    password: postgres.password,
    database: 'postgres',
  })

  it('refuses a connection without TLS, even with the right password', async () => {
    expect(await connect({ ...plain(), ssl: false })).toMatch(/refused: .*no encryption/)
    expect(
      await connect(postgresClientConfig(postgres.url().replace('sslmode=verify-full', 'sslmode=disable'))),
    ).toMatch(/^refused/)
  })

  it('accepts TLS with the password, verified against the environment CA given as DATABASE_CA_FILE', async () => {
    const rdsShaped = `postgresql://postgres:${postgres.password}@127.0.0.1:${postgres.port}/postgres?sslmode=require`
    expect(await connect(postgresClientConfig(rdsShaped, postgres.caFile))).toBe('tls')
    expect(await connect(postgresClientConfig(postgres.url()))).toBe('tls')
  })

  it('refuses TLS without the password, and a client that does not trust the server certificate', async () => {
    expect(await connect({ ...plain(), password: 'wrong', ssl: { ca: postgres.caFile } })).toMatch(/^refused/)
    // No CA given: the RDS bundle (the production default) does not trust the local CA.
    const rdsShaped = `postgresql://postgres:${postgres.password}@127.0.0.1:${postgres.port}/postgres?sslmode=require`
    expect(await connect(postgresClientConfig(rdsShaped, undefined))).toMatch(/refused: .*certificate/)
  })

  it('brings a data directory of an older version (trust, no TLS, running) to TLS and passwords in place', {
    timeout: 120_000,
  }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'wa-pg-old-'))
    const dataDir = join(root, 'data')
    const asServer = (bin: string, args: string[]) =>
      userInfo().uid === 0 ? run('runuser', ['-u', 'postgres', '--', bin, ...args]) : run(bin, args)
    let upgraded: PostgresServer | undefined
    try {
      if (userInfo().uid === 0) await run('install', ['-d', '-m', '0755', root])
      if (userInfo().uid === 0) await run('install', ['-d', '-o', 'postgres', '-m', '0700', dataDir])
      const bin = postgresBinDir()
      // What older versions made: initdb --auth=trust, started without ssl.
      await asServer(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync'])
      const port = await freePort()
      await asServer(join(bin, 'pg_ctl'), [
        'start',
        '-w',
        '-D',
        dataDir,
        '-l',
        join(dataDir, 'old.log'),
        '-o',
        `-p ${port} -c listen_addresses=127.0.0.1 -k ${dataDir}`,
      ])
      expect(await connect({ ...plain(), port, ssl: false })).toBe('plain')
      upgraded = await startPostgres({ dataDir, password: 'new-password', tlsDir: join(root, 'tls') })
      expect(upgraded.port).toBe(port)
      expect(await connect({ ...plain(), port, password: 'new-password', ssl: false })).toMatch(/^refused/)
      expect(await connect(postgresClientConfig(upgraded.url()))).toBe('tls')
    } finally {
      await upgraded?.stop()
      if (existsSync(join(dataDir, 'postmaster.pid')))
        await asServer(join(postgresBinDir(), 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'immediate']).catch(
          () => {},
        )
      rmSync(root, { recursive: true, force: true })
    }
  })
})

describe('local Redis', () => {
  async function ping(url: string, options: object = {}): Promise<string> {
    const client = new Redis(url, {
      ...options,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 3_000,
    })
    // ioredis reports the cause (TLS, AUTH) as an 'error' event and rejects with "Connection is closed".
    let cause: string | undefined
    client.on('error', (error: Error) => {
      cause ??= error.message
    })
    try {
      await client.connect()
      return await client.ping()
    } catch (error) {
      return `refused: ${cause ?? (error as Error).message}`
    } finally {
      client.disconnect()
    }
  }

  it('refuses a connection without TLS, even with the password', async () => {
    expect(await ping(`redis://default:${redis.password}@127.0.0.1:${redis.port}`)).toMatch(/^refused/)
  })

  it('refuses a TLS connection without the password', async () => {
    expect(await ping(`rediss://127.0.0.1:${redis.port}`, redis.clientOptions)).toMatch(/refused: .*NOAUTH/)
  })

  it('accepts TLS with the password (ElastiCache URL shape), verified against its CA, and never evicts', async () => {
    expect(redis.url).toMatch(/^rediss:\/\/default:[^@]+@127\.0\.0\.1:\d+$/)
    expect(await ping(redis.url, redis.clientOptions)).toBe('PONG')
    expect(await ping(redis.url)).toMatch(/refused: .*certificate/)
    const client = new Redis(redis.url, redis.clientOptions)
    expect(await client.info('memory')).toMatch(/^maxmemory_policy:noeviction\r?$/m)
    client.disconnect()
  })
})

describe('throwaway servers', () => {
  it('end with the process that started them, even when it never stops them', async () => {
    // A process that starts a throwaway pair and exits without stop(): a hook that timed out, a crash.
    const script = [
      "import { readFileSync } from 'node:fs'",
      "import { join } from 'node:path'",
      "import { startPostgres, startRedis } from '@whatsapp-saas/local-services'",
      'const [postgres, redis] = await Promise.all([startPostgres(), startRedis()])',
      "const pid = (file) => Number(readFileSync(file, 'utf8').split('\\n')[0])",
      'console.log(JSON.stringify({',
      "  postgres: { pid: pid(join(postgres.dataDir, 'postmaster.pid')), dir: postgres.dataDir },",
      "  redis: { pid: pid(join(redis.dir, 'redis.pid')), dir: redis.dir },",
      '}))',
      'process.exit(0)',
    ].join('\n')
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: join(import.meta.dirname, '..'),
    })
    const started = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<
      'postgres' | 'redis',
      { pid: number; dir: string }
    >
    const running = (pid: number) => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    }
    for (const server of Object.values(started)) {
      expect(server.pid).toBeGreaterThan(0)
      await expect.poll(() => running(server.pid), { timeout: 15_000, interval: 100 }).toBe(false)
      expect(existsSync(server.dir)).toBe(false)
    }
  }, 60_000)
})
