import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  freePort,
  postgresBinDir,
  requireBinary,
  startPostgres,
  startRedis,
  waitForPort,
} from '@whatsapp-saas/api/local-services'
import pg from 'pg'
import { parseImageRef } from '../core/artifact-ref.js'
import type {
  Artifact,
  OpsCommand,
  OpsResult,
  ProvisionResult,
  RolloutResult,
  RunContext,
  ServiceEnvironment,
  Target,
} from '../core/types.js'
import { acquireFileLock } from './deploy-lock.js'
import { proxyStatus, switchUpstreams } from './entry-proxy-client.js'
import {
  type Deployment,
  type EnvironmentState,
  type ProcessRecord,
  readState,
  writeState,
} from './environment-state.js'
import { writeJson } from './json-file.js'
import {
  type LocalEndpoints,
  type LocalSecrets,
  loadOrCreateSecrets,
  localServiceOptions,
  saveSecrets,
  secretDocuments,
  secretEnvironment,
  secretValues,
} from './local-secrets.js'
import { opsArguments, runOpsProcess } from './ops-runner.js'
import { isAlive, logSize, logTail, spawnDetached, stopProcess, waitUntilHealthy } from './process-control.js'
import { ReleaseStore } from './release-store.js'
import { type LocalLayout, localLayout } from './state-layout.js'
import type { Respawn } from './supervisor.js'
import { renice, STARTING_NICENESS, warmUp } from './warm-start.js'

export interface LocalTargetOptions {
  /** The repository (its node_modules serve every release). */
  repoRoot: string
  /** State directory, e.g. `<repo>/.pipeline/local`. */
  stateDir: string
  stack?: string
  /** Port of the stable entry URL (default 8080). */
  entryPort?: number
  /** API replicas per version (default 2). */
  replicas?: number
  /** How long a new version may take to answer /health 200 (default 60 s). */
  readyTimeoutMs?: number
  /** How long an old replica may take to finish its requests after SIGTERM (default 25 s). */
  drainTimeoutMs?: number
}

const DATABASE = 'whatsapp'
/** Meta's id of the demo phone number in the fake Graph API; fixed so env.json stays stable across runs. */
const DEMO_PHONE_NUMBER_ID = '100000000000001'
const DEMO_WABA_ID = '200000000000001'

export interface LocalTarget extends Target {
  readonly layout: LocalLayout
  /** Starts one process of a deployment again (the supervisor's restarts). */
  readonly respawn: Respawn
}

/** The local deploy target: PostgreSQL, Redis, the fake Graph API and replicas of the service behind one entry URL. */
export function createLocalTarget(options: LocalTargetOptions): LocalTarget {
  const layout = localLayout(options.stateDir)
  const store = new ReleaseStore(layout.releases, layout.registry)
  const entryPort = options.entryPort ?? 8080
  const replicaCount = options.replicas ?? 2
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000
  const drainTimeoutMs = options.drainTimeoutMs ?? 25_000
  const entryUrl = `http://127.0.0.1:${entryPort}`
  mkdirSync(layout.root, { recursive: true })
  let secrets: LocalSecrets | undefined
  const getSecrets = () => {
    secrets ??= loadOrCreateSecrets(layout.secrets)
    return secrets
  }

  const endpoints = (state: EnvironmentState): LocalEndpoints => {
    if (!state.postgresPort || !state.redisPort)
      throw new Error('PostgreSQL and Redis are not provisioned: run the provision stage first')
    return {
      postgresPort: state.postgresPort,
      redisPort: state.redisPort,
      database: DATABASE,
      caFile: join(layout.tls, 'ca.crt'),
    }
  }

  /**
   * The environment every process of the service gets, composed as the ECS task definition composes it:
   * the secrets by the same names from documents shaped like the Secrets Manager secrets, the rest as
   * plain values. Secrets only ever travel this way. The CA files are the local stand-ins for the RDS
   * bundle shipped in the image and for the public roots ElastiCache's certificate chains to.
   */
  const serviceEnv = (state: EnvironmentState, version: string): NodeJS.ProcessEnv => {
    const local = endpoints(state)
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      ...secretEnvironment(secretDocuments(getSecrets(), local)),
      DATABASE_CA_FILE: local.caFile,
      REDIS_CA_FILE: local.caFile,
      HOST: '127.0.0.1',
      APP_VERSION: version,
      LOG_LEVEL: process.env.LOCAL_LOG_LEVEL ?? 'info',
      GRAPH_API_BASE_URL: state.fakeGraph ? `http://127.0.0.1:${state.fakeGraph.port}` : 'http://127.0.0.1:9',
      SHUTDOWN_TIMEOUT_MS: String(Math.min(drainTimeoutMs, 25_000)),
      // Load runs go through one demo key: the per-key limit of production would turn them into 429s.
      RATE_LIMIT_PER_MINUTE: process.env.LOCAL_RATE_LIMIT_PER_MINUTE ?? '1000000',
      // Customer webhooks to a receiver on this machine (http, any port); AWS keeps https:443 and no loopback.
      CUSTOMER_WEBHOOK_ALLOW_LOOPBACK: 'true',
      CUSTOMER_WEBHOOK_REQUIRE_HTTPS: 'false',
      BACKUP_STORE: `file://${layout.backups}`,
      OPS_WORK_DIR: join(layout.root, 'tmp'),
    }
  }

  const releaseDir = (artifact: Artifact): string => {
    const record = store.find(artifact.digest)
    if (record) return record.path
    return store.packaged(artifact).path
  }

  const postgresRunning = () => existsSync(join(layout.postgres, 'postmaster.pid'))
  const redisRunning = () => {
    const pidFile = join(layout.redis, 'redis.pid')
    return existsSync(pidFile) && isAlive(Number(readFileSync(pidFile, 'utf8').trim()))
  }

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

  const alive = (record: ProcessRecord | undefined): record is ProcessRecord =>
    record !== undefined && isAlive(record.pid)

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
      cwd: options.repoRoot,
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
        REPO_ROOT: options.repoRoot,
        STATE_DIR: layout.root,
        LOCAL_ENTRY_PORT: String(entryPort),
        LOCAL_DRAIN_TIMEOUT_MS: String(drainTimeoutMs),
      },
      cwd: options.repoRoot,
      logFile,
    })
    state.supervisor = { pid, logFile, startedAt: new Date().toISOString() }
    log.info(`supervisor started (pid ${pid})`)
  }

  function spawnReplica(dir: string, env: NodeJS.ProcessEnv, short: string, port: number) {
    const logFile = join(layout.logs, `api-${short}-${port}.log`)
    const logFrom = logSize(logFile)
    const pid = spawnDetached({
      command: process.execPath,
      args: ['dist/server.js'],
      env: { ...env, PORT: String(port) },
      cwd: dir,
      logFile,
    })
    return { pid, port, logFile, logFrom, startedAt: new Date().toISOString() }
  }

  function spawnWorker(dir: string, env: NodeJS.ProcessEnv, short: string): ProcessRecord {
    const logFile = join(layout.logs, `worker-${short}.log`)
    const logFrom = logSize(logFile)
    const pid = spawnDetached({ command: process.execPath, args: ['dist/worker.js'], env, cwd: dir, logFile })
    return { pid, logFile, logFrom, startedAt: new Date().toISOString() }
  }

  const respawn: Respawn = (role, deployment, port) => {
    const state = readState(layout.processes)
    const dir = releaseDir(deployment.artifact)
    const env = serviceEnv(state, deployment.artifact.version)
    const short = deployment.artifact.digest.slice(7, 19)
    if (role === 'worker') return spawnWorker(dir, env, short)
    if (port === undefined) throw new Error('a replica restarts on its own port')
    return spawnReplica(dir, env, short, port)
  }

  async function startFakeGraph(state: EnvironmentState, log: RunContext['log']): Promise<void> {
    if (alive(state.fakeGraph)) return
    const release = store.published().at(-1)
    if (!release || !existsSync(join(release.path, 'dist', 'fake-graph', 'main.js'))) {
      log.warn('no published release carries the fake Graph API yet: outbound messages will fail')
      return
    }
    const previousPort = (state.fakeGraph as { port?: number } | undefined)?.port
    const port = previousPort ?? (await freePort())
    const logFile = join(layout.logs, 'fake-graph.log')
    const s = getSecrets()
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

  async function runOps(
    command: OpsCommand,
    artifact: Artifact,
    ctx: RunContext,
    extra: string[] = [],
    extraEnv: NodeJS.ProcessEnv = {},
  ) {
    const state = readState(layout.processes)
    if (!state.postgresPort || !postgresRunning()) {
      if (command.name === 'migration-status' && ctx.dryRun) return firstDeployStatus(releaseDir(artifact))
      throw new Error('the local database is not running: deploy (or provision) first')
    }
    mkdirSync(join(layout.root, 'tmp'), { recursive: true })
    return runOpsProcess({
      releaseDir: releaseDir(artifact),
      args: opsArguments(command, extra),
      env: { ...serviceEnv(state, artifact.version), MIGRATE_MAX_BACKUP_AGE_MINUTES: '30', ...extraEnv },
      log: ctx.log,
      signal: ctx.signal,
    })
  }

  /** Seeds the demo organization once per database and records its API key (env.json, secrets.json). */
  async function ensureSeeded(artifact: Artifact, ctx: RunContext): Promise<void> {
    const s = getSecrets()
    if (s.apiKey) return
    const state = readState(layout.processes)
    const seeded = await runOps(
      { name: 'seed' },
      artifact,
      ctx,
      [
        '--phone-number-id',
        DEMO_PHONE_NUMBER_ID,
        '--waba-id',
        DEMO_WABA_ID,
        '--access-token-env',
        'FAKE_GRAPH_ACCESS_TOKEN',
      ],
      { FAKE_GRAPH_ACCESS_TOKEN: s.graphAccessToken },
    )
    const apiKey = seeded.result?.apiKey
    if (seeded.exitCode !== 0 || typeof apiKey !== 'string') {
      ctx.log.warn(
        `seed did not run (${seeded.output.at(-1) ?? `exit ${seeded.exitCode}`}): env.json has no apiKey`,
      )
      return
    }
    secrets = { ...s, apiKey }
    saveSecrets(layout.secrets, secrets)
    writeEnvFile(state)
    ctx.log.info('demo organization seeded; its API key is in env.json')
  }

  function writeEnvFile(state: EnvironmentState): ServiceEnvironment {
    const s = getSecrets()
    const env: ServiceEnvironment = {
      baseUrl: entryUrl,
      adminToken: s.adminToken,
      ...(s.apiKey ? { apiKey: s.apiKey } : {}),
      appSecret: s.appSecret,
      verifyToken: s.verifyToken,
      ...(state.fakeGraph ? { fakeGraphUrl: `http://127.0.0.1:${state.fakeGraph.port}` } : {}),
      phoneNumberId: DEMO_PHONE_NUMBER_ID,
    }
    writeJson(layout.envFile, env, 0o600)
    return env
  }

  /** Starts a version beside whatever serves, switches the entry URL to it once ready, and drains the old one. */
  async function replaceVersion(artifact: Artifact, ctx: RunContext): Promise<RolloutResult> {
    const began = Date.now()
    const state = readState(layout.processes)
    const dir = releaseDir(artifact)
    const env = serviceEnv(state, artifact.version)
    const old = state.serving
    const previous = old?.artifact
    const short = artifact.digest.slice(7, 19)
    const started: Deployment['replicas'] = []
    const stopNew = async () => {
      await Promise.all(started.map((r) => stopProcess(r.pid, 2_000)))
    }
    // One replica at a time, at a low CPU priority until warm: the serving version keeps the CPU it needs.
    const apiKey = getSecrets().apiKey
    const hotPaths = [
      { path: '/health' },
      { path: '/api/v1/status' },
      ...(apiKey
        ? [{ path: '/api/v1/messages?limit=1', headers: { authorization: `Bearer ${apiKey}` } }]
        : []),
    ]
    let warmMs = 0
    try {
      for (let i = 0; i < replicaCount; i++) {
        const replica = spawnReplica(dir, env, short, await freePort())
        started.push(replica)
        renice(replica.pid, STARTING_NICENESS)
        ctx.log.info(
          `replica ${i + 1}/${replicaCount} of ${artifact.version} starting on port ${replica.port} (pid ${replica.pid})`,
        )
        await waitUntilHealthy({
          url: `http://127.0.0.1:${replica.port}/health`,
          pid: replica.pid,
          logFile: replica.logFile,
          logFrom: replica.logFrom,
          timeoutMs: readyTimeoutMs,
          signal: ctx.signal,
        })
        warmMs += await warmUp(`http://127.0.0.1:${replica.port}`, hotPaths)
      }
      for (const r of started)
        if (!renice(r.pid, 0))
          ctx.log.warn(
            `replica pid ${r.pid} keeps niceness ${STARTING_NICENESS} (no privilege to restore it)`,
          )
    } catch (error) {
      await stopNew()
      const reason = (error as Error).message
      return {
        status: previous ? 'rolled_back' : 'failed',
        ...(previous ? { previous, current: previous } : {}),
        summary: `${artifact.version} never became ready (${reason}); ${previous ? `${previous.version} keeps serving` : 'nothing serves'}`,
      }
    }
    const readyMs = Date.now() - began
    ctx.log.info(`${replicaCount} replicas ready and warm in ${readyMs} ms (warm-up ${warmMs} ms)`)

    const worker = spawnWorker(dir, env, short)
    // The new worker starts while the new replicas take the traffic: it yields the CPU until the old ones are gone.
    renice(worker.pid, STARTING_NICENESS)

    const switched = Date.now()
    let drained: boolean
    try {
      ;({ drained } = await switchUpstreams(
        layout.controlSocket,
        started.map((r) => `http://127.0.0.1:${r.port}`),
      ))
    } catch (error) {
      // Not recorded anywhere yet: stop the new processes rather than leave them running unseen.
      await Promise.all([stopNew(), stopProcess(worker.pid, 2_000)])
      return {
        status: previous ? 'rolled_back' : 'failed',
        ...(previous ? { previous, current: previous } : {}),
        summary: `entry proxy could not switch to ${artifact.version} (${(error as Error).message}); ${previous ? `${previous.version} keeps serving` : 'nothing serves'}`,
      }
    }
    const switchMs = Date.now() - switched
    ctx.log.info(
      `entry URL switched to ${artifact.version} (old upstreams ${drained ? 'drained' : 'timed out draining'})`,
    )
    // Read again: the supervisor may have restarted an old process (new pid) since this rollout began.
    const latest = readState(layout.processes)
    const outgoing = latest.serving ?? old
    latest.serving = { artifact, replicas: started, worker, since: new Date().toISOString() }
    if (previous && previous.digest !== artifact.digest) latest.previous = previous
    else if (previous) latest.previous ??= previous
    writeState(layout.processes, latest)

    // Old processes: SIGTERM makes them stop accepting and finish what they hold (their graceful shutdown).
    const retired = [...(outgoing?.replicas ?? []), ...(outgoing?.worker ? [outgoing.worker] : [])]
    const stopped = await Promise.all(retired.map((r) => stopProcess(r.pid, drainTimeoutMs)))
    renice(worker.pid, 0)
    if (!isAlive(worker.pid))
      ctx.log.warn(`worker exited right after start: ${logTail(worker.logFile, 5, worker.logFrom)}`)
    return {
      status: 'succeeded',
      ...(previous ? { previous } : {}),
      current: artifact,
      summary: `${artifact.version} serves on ${entryUrl} (${replicaCount} replicas + worker) in ${((Date.now() - began) / 1000).toFixed(1)} s${previous ? `, replacing ${previous.version}` : ''}`,
      details: {
        replicas: started.map((r) => ({ pid: r.pid, port: r.port })),
        readyMs,
        warmMs,
        switchMs,
        drained,
        rolloutMs: Date.now() - began,
        retired: stopped.length,
        killed: stopped.filter((s) => s === 'killed').length,
      },
    }
  }

  const target: LocalTarget = {
    name: 'local',
    stack: options.stack ?? 'local',
    layout,
    respawn,

    async preflight() {
      const checked = [`PostgreSQL server in ${postgresBinDir()}`]
      requireBinary('redis-server', 'redis-server')
      checked.push('redis-server')
      requireBinary('pg_dump', 'postgresql-client-15')
      checked.push('pg_dump')
      if (!existsSync(join(options.repoRoot, 'node_modules')))
        throw new Error('node_modules missing: run npm ci (or scripts/bootstrap.sh) first')
      checked.push('node_modules installed')
      return checked
    },

    async acquireLock(ctx) {
      return acquireFileLock(layout.lock, ctx.runId)
    },

    async publish(artifact) {
      const record = store.publish(artifact)
      return { ref: record.ref, digest: record.digest, version: record.version }
    },

    async provision(ctx): Promise<ProvisionResult> {
      const state = readState(layout.processes)
      if (ctx.dryRun) {
        const changes = [
          postgresRunning() ? null : `start PostgreSQL (data in ${layout.postgres})`,
          redisRunning() ? null : `start Redis (data in ${layout.redis})`,
          alive(state.proxy) ? null : `start the entry proxy on ${entryUrl}`,
          alive(state.supervisor) ? null : 'start the supervisor',
          alive(state.fakeGraph) ? null : 'start the fake Graph API',
        ].filter((c): c is string => c !== null)
        return {
          summary: changes.length ? `would ${changes.join(', ')}` : 'everything runs already',
          outputs: { baseUrl: entryUrl },
          changes,
        }
      }
      getSecrets()
      mkdirSync(layout.logs, { recursive: true })
      const services = localServiceOptions(layout, getSecrets())
      const postgres = await startPostgres(services.postgres)
      await ensureDatabase(postgres.url('postgres'))
      const redis = await startRedis(services.redis)
      state.postgresPort = postgres.port
      state.redisPort = redis.port
      writeState(layout.processes, state)
      await startProxy(state, ctx.log)
      startSupervisor(state, ctx.log)
      writeState(layout.processes, state)
      await startFakeGraph(state, ctx.log)
      writeState(layout.processes, state)
      writeEnvFile(state)
      return {
        summary: `PostgreSQL :${postgres.port}, Redis :${redis.port}, entry ${entryUrl}${state.fakeGraph ? `, fake Graph :${state.fakeGraph.port}` : ''}`,
        outputs: {
          baseUrl: entryUrl,
          postgresPort: String(postgres.port),
          redisPort: String(redis.port),
          ...(state.fakeGraph ? { fakeGraphUrl: `http://127.0.0.1:${state.fakeGraph.port}` } : {}),
        },
      }
    },

    runOps: (command, artifact, ctx): Promise<OpsResult> => runOps(command, artifact, ctx),

    async rollout(artifact, ctx) {
      if (!store.find(artifact.digest))
        throw new Error(`${artifact.digest} is not published in the local registry`)
      await ensureSeeded(artifact, ctx)
      return replaceVersion(artifact, ctx)
    },

    async rollback(ctx, to) {
      const state = readState(layout.processes)
      const destination = to ?? state.previous
      if (!destination) return { status: 'failed', summary: 'no previous version to roll back to' }
      const record = store.find(destination.digest)
      if (!record) return { status: 'failed', summary: `${destination.digest} is not in the local registry` }
      // Same content can carry several versions (digest = content): roll back to the version that served.
      const result = await replaceVersion(
        { ref: record.ref, digest: record.digest, version: destination.version },
        ctx,
      )
      if (result.status !== 'succeeded') return { ...result, status: 'failed' }
      return { ...result, summary: `rolled back to ${destination.version}: ${result.summary}` }
    },

    async current() {
      const state = readState(layout.processes)
      const serving = state.serving
      return serving?.replicas.some((r) => isAlive(r.pid)) ? serving.artifact : undefined
    },

    async baseUrl() {
      return entryUrl
    },

    async resolve(image) {
      const { digest } = parseImageRef(image)
      const record = store.find(digest)
      if (!record) throw new Error(`${image} is not in the local registry (${layout.registry})`)
      return { ref: record.ref, digest: record.digest, version: record.version }
    },

    async environment() {
      return writeEnvFile(readState(layout.processes))
    },

    secretValues: () => secretValues(getSecrets()),
  }
  return target
}

/** Before the first deploy there is no database: every migration of the release will apply to an empty one. */
function firstDeployStatus(releaseDir: string): OpsResult {
  const dir = join(releaseDir, 'prisma', 'migrations')
  const pending = existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => ({ migration: e.name, verdict: 'safe', findings: [] }))
        .sort((a, b) => a.migration.localeCompare(b.migration))
    : []
  return {
    exitCode: 0,
    output: ['no database yet: every migration applies to an empty database'],
    result: { ok: true, applied: [], pending },
  }
}
