import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, type PostgresServer, type RedisServer } from '@whatsapp-saas/local-services'
import autocannon from 'autocannon'
import pg from 'pg'
import { applyMigrations, TEST_SECRETS } from '../api/test/harness/index.js'
import { WORKER_COMMAND } from '../infra/src/commands.js'
import type { BenchResult } from './types.js'

// What the service benchmarks share: the API as a real process next to a bare Fastify baseline
// process, autocannon runs bounded in time, and their results in the form of bench/types.ts.
export const DURATION_S = 10
export const CONNECTIONS = 50
export const root = join(dirname(fileURLToPath(import.meta.url)), '..')

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

/** The compiled entry (server or worker) when `npm run build -w api` is up to date with the sources, else tsx. */
export function serverCommand(entry: 'server' | 'worker' | 'fake-graph/main' = 'server'): {
  args: string[]
  runtime: string
} {
  const built = join(root, 'api', 'dist', `${entry}.js`)
  // The worker runs with the V8 flags of its task definition (its heap ceiling).
  const flags = entry === 'worker' ? WORKER_COMMAND.slice(1, -1) : []
  if (existsSync(built) && statSync(built).mtimeMs >= newestMtime(join(root, 'api', 'src')))
    return { args: [...flags, built], runtime: 'node dist' }
  return {
    args: [...flags, '--import', 'tsx', join(root, 'api', 'src', `${entry}.ts`)],
    runtime: 'tsx (api not built)',
  }
}

export async function waitForHealth(url: string, timeoutMs: number): Promise<number> {
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

export const BARE_SERVER = `
import Fastify from 'fastify'
const app = Fastify()
app.get('/bare', async () => ({ status: 'ok' }))
app.post('/bare', async () => ({ status: 'queued' }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
`

/** A new database on the benchmark's server with the service's migrations applied; returns its URL. */
export async function createMigratedDatabase(postgres: PostgresServer, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: postgres.url() })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const databaseUrl = postgres.url(name)
  await applyMigrations(databaseUrl)
  return databaseUrl
}

/**
 * Peak resident memory of a running process in MiB (VmHWM of /proc/<pid>/status, Linux), read just
 * before it is stopped; null where /proc is not there.
 */
export function peakRssMb(child: ChildProcess): number | null {
  try {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]
    return kb ? Math.round(Number(kb) / 1024) : null
  } catch {
    return null
  }
}

/**
 * CPU time a running process has used so far in ms (user + system, /proc/<pid>/stat, Linux), null
 * elsewhere. On a shared machine the wall-clock time to ready grows with everyone else's load; the
 * CPU the start-up itself costs does not, so both are recorded.
 */
export function cpuMs(child: ChildProcess): number | null {
  try {
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces) start at index 2; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12])
    // USER_HZ is 100 on every Linux build Node supports.
    return Number.isFinite(ticks) ? ticks * 10 : null
  } catch {
    return null
  }
}

export function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

export async function load(options: autocannon.Options): Promise<autocannon.Result> {
  return autocannon({ connections: CONNECTIONS, duration: DURATION_S, ...options })
}

export function result(
  name: string,
  run: autocannon.Result,
  baseline: { name: string; reqPerSec: number } | null,
  extra: Record<string, unknown> = {},
): BenchResult {
  const reqPerSec = Math.round(run.requests.average)
  return {
    name,
    reqPerSec,
    p50Ms: run.latency.p50,
    p99Ms: run.latency.p99,
    errors: run.errors + run.timeouts + run.non2xx,
    baseline,
    // Share of the bare baseline measured in the same run: the figure the targets are set in.
    ratioPercent: baseline ? Math.round((reqPerSec / baseline.reqPerSec) * 1000) / 10 : null,
    ...extra,
  }
}

/** Environment of a benchmarked API or worker process: only what it needs, throttling of the API off. */
export function serviceEnv(databaseUrl: string, redis: RedisServer): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    // Both over verified TLS with passwords, as on AWS (the URL carries the database's CA).
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    REDIS_CA_FILE: redis.caFile,
    ADMIN_TOKEN: TEST_SECRETS.adminToken,
    META_APP_SECRET: TEST_SECRETS.metaAppSecret,
    META_VERIFY_TOKEN: TEST_SECRETS.metaVerifyToken,
    ENCRYPTION_KEY: TEST_SECRETS.encryptionKey.toString('base64'),
    RATE_LIMIT_PER_MINUTE: '1000000',
    LOG_LEVEL: 'warn',
  }
}

/**
 * Extra Node flags of the benchmarked API process from BENCH_API_NODE_ARGS (space-separated), e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where its time goes under the benchmark's load.
 */
function apiNodeArgs(): string[] {
  return (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter((arg) => arg.length > 0)
}

/** Spawns one API process (compiled when up to date) on the given databases; resolves once /health is 200. */
export async function startApi(
  databaseUrl: string,
  redis: RedisServer,
): Promise<{
  child: ChildProcess
  port: number
  readyMs: number
  readyCpuMs: number | null
  runtime: string
}> {
  const port = await freePort()
  const { args, runtime } = serverCommand()
  const spawnedAt = performance.now()
  const child = spawn(process.execPath, [...apiNodeArgs(), ...args], {
    cwd: join(root, 'api'),
    stdio: 'ignore',
    env: { ...serviceEnv(databaseUrl, redis), HOST: '127.0.0.1', PORT: String(port) },
  })
  const readyMs = Math.round((await waitForHealth(`http://127.0.0.1:${port}/health`, 60_000)) - spawnedAt)
  return { child, port, readyMs, readyCpuMs: cpuMs(child), runtime }
}

/** Spawns the bare Fastify baseline (GET and POST /bare); resolves with its port once it answers. */
export async function startBareFastify(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--input-type=module', '-e', BARE_SERVER], {
    cwd: root,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '', PORT: String(port) },
  })
  await waitForHealth(`http://127.0.0.1:${port}/bare`, 30_000)
  return { child, port }
}
