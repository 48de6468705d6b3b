import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import {
  ensureLocalCa,
  freePort,
  startPostgres,
  startRedis,
  waitForPort,
} from '@whatsapp-saas/local-services'
import pg from 'pg'
import type { Artifact, RunContext } from '../core/types.js'
import { DATABASE, DEMO_WABA_ID, type LocalContext } from './context.js'
import { proxyStatus } from './entry-proxy-client.js'
import { type EnvironmentState, type ProcessRecord, readState, writeState } from './environment-state.js'
import { localServiceOptions } from './local-secrets.js'
import { isAlive, postgresPid, redisPid } from './pid-probe.js'
import { logSize, logTail, spawnDetached, stopProcess } from './process-control.js'
import type { ServiceConfig } from './service-config.js'
import type { Respawn } from './supervisor.js'

/**
 * The worker's command after `node`, as its task definition runs it (infra/src/commands.ts
 * WORKER_COMMAND: the same V8 heap ceiling); ci/test/local/worker-command.test.ts holds the two equal.
 */
export const WORKER_ARGS = ['--max-old-space-size=128', 'dist/worker.js']

// Process supervision of the local environment: PostgreSQL, Redis, the entry proxy, the supervisor, the fake
// Graph API, and the replicas and worker of a release.

export interface ReplicaRecord extends ProcessRecord {
  port: number
}

export interface LocalProcesses {
  alive(record: ProcessRecord | undefined): record is ProcessRecord
  postgresRunning(): boolean
  redisRunning(): boolean
  /** Starts whatever of the environment's long-lived processes does not run yet; records them in the state. */
  startEnvironment(ctx: RunContext): Promise<EnvironmentState>
  spawnReplica(artifact: Artifact, env: NodeJS.ProcessEnv, port: number): ReplicaRecord
  spawnWorker(artifact: Artifact, env: NodeJS.ProcessEnv): ProcessRecord
  /** Starts one process of a deployment again (the supervisor's restarts). */
  respawn: Respawn
}

export function localProcesses(local: LocalContext, config: ServiceConfig): LocalProcesses {
  const { layout, entryPort, entryUrl } = local
  const alive = (record: ProcessRecord | undefined): record is ProcessRecord =>
    record !== undefined && isAlive(record.pid)
  const short = (artifact: Artifact) => artifact.digest.slice(7, 19)

  async function ensureDatabase(url: string): Promise<void> {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE])
      if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`)
    } finally {
      await client.end()
    }
  }

  async function startProxy(state: EnvironmentState, log: RunContext['log']): Promise<void> {
    if (alive(state.proxy) && state.proxy.port === entryPort) return
    if (state.proxy) await stopProcess(state.proxy.pid, 5_000)
    const logFile = join(layout.logs, 'entry-proxy.log')
    const upstreams = (state.serving?.replicas ?? []).filter(alive).map((r) => `http://127.0.0.1:${r.port}`)
    const pid = spawnDetached({
      command: process.execPath,
      args: ['--import', import.meta.resolve('tsx'), join(import.meta.dirname, 'entry-proxy-main.ts')],
      env: {
        PATH: process.env.PATH,
        ENTRY_PORT: String(entryPort),
        CONTROL_SOCKET: layout.controlSocket,
        UPSTREAMS: upstreams.join(','),
      },
      cwd: local.repoRoot,
      logFile,
    })
    try {
      await waitForPort(entryPort, 15_000)
    } catch {
      throw new Error(`entry proxy did not listen on ${entryPort}: ${logTail(logFile)}`)
    }
    // Something listening on the port is not enough (another environment may hold it): ours must answer on
    // its control socket, which it opens only after it listens.
    let ours = false
    for (let i = 0; i < 50 && !ours && isAlive(pid); i++) {
      ours = await proxyStatus(layout.controlSocket)
        .then((s) => s.pid === pid)
        .catch(() => false)
      if (!ours) await new Promise((r) => setTimeout(r, 100))
    }
    if (!ours) {
      await stopProcess(pid, 2_000)
      throw new Error(`entry proxy exited (port ${entryPort} in use?): ${logTail(logFile)}`)
    }
    state.proxy = { pid, port: entryPort, logFile, startedAt: new Date().toISOString() }
    log.info(`entry proxy started on ${entryUrl} (pid ${pid})`)
  }

  /** The supervisor (supervisor-main.ts) restarts crashed replicas and workers of the serving version. */
  function startSupervisor(state: EnvironmentState, log: RunContext['log']): void {
    if (alive(state.supervisor)) return
    const logFile = join(layout.logs, 'supervisor.log')
    const pid = spawnDetached({
      command: process.execPath,
      args: ['--import', import.meta.resolve('tsx'), join(import.meta.dirname, 'supervisor-main.ts')],
      env: {
        // The target's own settings, so that restarted processes get what the rollout gave them.
        ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('LOCAL_'))),
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        REPO_ROOT: local.repoRoot,
        STATE_DIR: layout.root,
        LOCAL_ENTRY_PORT: String(entryPort),
        LOCAL_DRAIN_TIMEOUT_MS: String(local.drainTimeoutMs),
      },
      cwd: local.repoRoot,
      logFile,
    })
    state.supervisor = { pid, logFile, startedAt: new Date().toISOString() }
    log.info(`supervisor started (pid ${pid})`)
  }

  async function startFakeGraph(state: EnvironmentState, log: RunContext['log']): Promise<void> {
    if (alive(state.fakeGraph)) return
    const release = local.store.published().at(-1)
    if (!release || !existsSync(join(release.path, 'dist', 'fake-graph', 'main.js'))) {
      log.warn('no published release carries the fake Graph API yet: outbound messages will fail')
      return
    }
    const previousPort = (state.fakeGraph as { port?: number } | undefined)?.port
    const port = previousPort ?? (await freePort())
    const logFile = join(layout.logs, 'fake-graph.log')
    const s = config.secrets()
    const pid = spawnDetached({
      command: process.execPath,
      args: ['dist/fake-graph/main.js'],
      env: {
        PATH: process.env.PATH,
        FAKE_GRAPH_PORT: String(port),
        FAKE_GRAPH_HOST: '127.0.0.1',
        FAKE_GRAPH_WEBHOOK_URL: `${entryUrl}/webhooks/whatsapp`,
        META_APP_SECRET: s.appSecret,
        FAKE_GRAPH_ACCESS_TOKEN: s.graphAccessToken,
        FAKE_GRAPH_WABA_ID: DEMO_WABA_ID,
        // Smoke and load post inbound messages to the service, not to this fake: the service holds the window.
        FAKE_GRAPH_ENFORCE_SERVICE_WINDOW: 'false',
      },
      cwd: release.path,
      logFile,
    })
    try {
      await waitForPort(port, 15_000)
    } catch {
      throw new Error(`fake Graph API did not start: ${logTail(logFile)}`)
    }
    state.fakeGraph = { pid, port, logFile, startedAt: new Date().toISOString() }
    log.info(`fake Graph API started on http://127.0.0.1:${port} (pid ${pid})`)
  }

  async function startEnvironment(ctx: RunContext): Promise<EnvironmentState> {
    const state = readState(layout.processes)
    mkdirSync(layout.logs, { recursive: true })
    const services = localServiceOptions(layout, config.secrets())
    // One CA for both servers, made before they start side by side (each would otherwise make its own).
    await ensureLocalCa(services.postgres.tlsDir)
    // None of these needs another: PostgreSQL (the slowest, initdb on a first deploy), Redis, the entry proxy and
    // the fake Graph API start at once. Whatever started is recorded even when another one failed.
    const started = await Promise.allSettled([
      (async () => {
        const postgres = await startPostgres(services.postgres)
        state.postgresPort = postgres.port
        await ensureDatabase(postgres.url('postgres'))
      })(),
      (async () => {
        const redis = await startRedis(services.redis)
        state.redisPort = redis.port
      })(),
      startProxy(state, ctx.log),
      startFakeGraph(state, ctx.log),
    ])
    writeState(layout.processes, state)
    const failure = started.find((outcome) => outcome.status === 'rejected')
    if (failure) throw failure.reason
    startSupervisor(state, ctx.log)
    writeState(layout.processes, state)
    return state
  }

  function spawnReplica(artifact: Artifact, env: NodeJS.ProcessEnv, port: number): ReplicaRecord {
    const logFile = join(layout.logs, `api-${short(artifact)}-${port}.log`)
    const logFrom = logSize(logFile)
    const pid = spawnDetached({
      command: process.execPath,
      args: ['dist/server.js'],
      env: { ...env, PORT: String(port) },
      cwd: local.releaseDir(artifact),
      logFile,
    })
    return { pid, port, logFile, logFrom, startedAt: new Date().toISOString() }
  }

  function spawnWorker(artifact: Artifact, env: NodeJS.ProcessEnv): ProcessRecord {
    const logFile = join(layout.logs, `worker-${short(artifact)}.log`)
    const logFrom = logSize(logFile)
    const pid = spawnDetached({
      command: process.execPath,
      args: WORKER_ARGS,
      env,
      cwd: local.releaseDir(artifact),
      logFile,
    })
    return { pid, logFile, logFrom, startedAt: new Date().toISOString() }
  }

  const respawn: Respawn = (role, deployment, port) => {
    const env = config.serviceEnv(readState(layout.processes), deployment.artifact.version)
    if (role === 'worker') return spawnWorker(deployment.artifact, env)
    if (port === undefined) throw new Error('a replica restarts on its own port')
    return spawnReplica(deployment.artifact, env, port)
  }

  return {
    alive,
    postgresRunning: () => postgresPid(layout.postgres) !== undefined,
    redisRunning: () => redisPid(layout.redis) !== undefined,
    startEnvironment,
    spawnReplica,
    spawnWorker,
    respawn,
  }
}
