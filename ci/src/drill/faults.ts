import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startPostgres, startRedis } from '@whatsapp-saas/local-services'
import { runPipeline } from '../core/pipeline.js'
import type { Tools } from '../core/types.js'
import { readState } from '../local/environment-state.js'
import { loadOrCreateSecrets, localServiceOptions } from '../local/local-secrets.js'
import { isAlive } from '../local/pid-probe.js'
import { probe } from '../local/process-control.js'
import { ReleaseStore } from '../local/release-store.js'
import type { LocalTarget } from '../local/target.js'
import { runSmokeSuite } from '../tools/smoke-runner.js'
import { graphRequests } from './accounting.js'
import type { LoadGenerator } from './load.js'

// The faults of the drill, each against the running local target, each returning once the environment has
// recovered (or its bound passed) with a line saying what happened.

export interface FaultContext {
  target: LocalTarget
  repoRoot: string
  entryUrl: string
  fakeGraphUrl: string
  load: LoadGenerator
  reportsDir: string
  log: (line: string) => void
}

export interface FaultOutcome {
  recovered: boolean
  notes: string
}

export interface Fault {
  name: string
  description: string
  run(ctx: FaultContext): Promise<FaultOutcome>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await sleep(200)
  }
  return false
}

const entryHealthy = (ctx: FaultContext) => async () => (await probe(`${ctx.entryUrl}/health`)) === 200

/** Waits until the supervisor replaced a dead process: the slot has a new, live pid. */
function replaced(
  ctx: FaultContext,
  oldPid: number,
  pick: (s: ReturnType<typeof readState>) => number | undefined,
) {
  return () => {
    const pid = pick(readState(ctx.target.layout.processes))
    return pid !== undefined && pid !== oldPid && isAlive(pid)
  }
}

export const killReplica: Fault = {
  name: 'replica-kill',
  description: 'SIGKILL one API replica',
  async run(ctx) {
    const replica = readState(ctx.target.layout.processes).serving?.replicas[0]
    if (!replica) return { recovered: false, notes: 'no replica serves' }
    process.kill(replica.pid, 'SIGKILL')
    const restarted = await until(
      replaced(ctx, replica.pid, (s) => s.serving?.replicas.find((r) => r.port === replica.port)?.pid),
      30_000,
    )
    const healthy =
      restarted &&
      (await until(async () => (await probe(`http://127.0.0.1:${replica.port}/health`)) === 200, 30_000))
    return {
      recovered: healthy,
      notes: healthy
        ? `replica :${replica.port} restarted by the supervisor and healthy`
        : `replica :${replica.port} not back`,
    }
  },
}

export const stopRedis: Fault = {
  name: 'redis-stop',
  description: 'stop Redis for 5 s',
  async run(ctx) {
    const { redis: options } = localServiceOptions(
      ctx.target.layout,
      loadOrCreateSecrets(ctx.target.layout.secrets),
    )
    const port = readState(ctx.target.layout.processes).redisPort
    await (await startRedis(options)).stop()
    await sleep(5_000)
    await startRedis({ ...options, ...(port ? { port } : {}) })
    const healthy = await until(entryHealthy(ctx), 30_000)
    return {
      recovered: healthy,
      notes: healthy ? 'Redis back, entry URL ready' : 'entry URL not ready after Redis came back',
    }
  },
}

export const stopPostgres: Fault = {
  name: 'postgres-stop',
  description: 'stop PostgreSQL for 5 s',
  async run(ctx) {
    const { postgres: options } = localServiceOptions(
      ctx.target.layout,
      loadOrCreateSecrets(ctx.target.layout.secrets),
    )
    const port = readState(ctx.target.layout.processes).postgresPort
    await (await startPostgres(options)).stop()
    await sleep(5_000)
    await startPostgres({ ...options, ...(port ? { port } : {}) })
    const healthy = await until(entryHealthy(ctx), 30_000)
    return {
      recovered: healthy,
      notes: healthy ? 'PostgreSQL back, entry URL ready' : 'entry URL not ready after PostgreSQL came back',
    }
  },
}

export const killWorkerMidSend: Fault = {
  name: 'worker-kill',
  description: 'SIGKILL the worker while it sends a batch of 60 messages',
  async run(ctx) {
    const worker = readState(ctx.target.layout.processes).serving?.worker
    if (!worker) return { recovered: false, notes: 'no worker runs' }
    // Not waited for: a worker that an earlier fault ended is a finding, not something to wait out.
    if (!isAlive(worker.pid))
      return {
        recovered: false,
        notes: `the worker (pid ${worker.pid}) was not running when this fault began`,
      }
    const before = (await graphRequests(ctx.fakeGraphUrl)).length
    const burst = ctx.load.burst(60)
    // Mid-send: some of the batch reached Meta, not all of it.
    const started = await until(
      async () => (await graphRequests(ctx.fakeGraphUrl)).length >= before + 5,
      15_000,
    )
    process.kill(worker.pid, 'SIGKILL')
    await burst
    const restarted = await until(
      replaced(ctx, worker.pid, (s) => s.serving?.worker?.pid),
      30_000,
    )
    return {
      recovered: restarted,
      notes: `${started ? 'killed after the first sends reached Meta' : 'killed before any send reached Meta'}; worker ${restarted ? 'restarted by the supervisor' : 'not restarted'}`,
    }
  },
}

/** Tools that package the serving release with a server that dies at start: a broken build, as the e2e tests make. */
function brokenBuildTools(ctx: FaultContext, version: string): Tools {
  const apiDir = join(ctx.repoRoot, 'api')
  return {
    async build() {
      if (!existsSync(join(apiDir, 'dist', 'server.js'))) throw new Error('api/dist is missing: deploy first')
      return { summary: 'the serving build, broken on purpose' }
    },
    async test() {
      return { summary: 'a drill: the broken build is the point' }
    },
    async package() {
      const variant = mkdtempSync(join(tmpdir(), 'wa-drill-broken-'))
      try {
        for (const entry of ['dist', 'package.json', 'prisma', 'prisma.config.ts'])
          if (existsSync(join(apiDir, entry)))
            cpSync(join(apiDir, entry), join(variant, 'api', entry), { recursive: true })
        writeFileSync(
          join(variant, 'api', 'dist', 'server.js'),
          "console.log('starting')\nthrow new Error('drill: this build is broken on purpose')\n",
        )
        symlinkSync(join(ctx.repoRoot, 'node_modules'), join(variant, 'node_modules'), 'dir')
        const store = new ReleaseStore(ctx.target.layout.releases, ctx.target.layout.registry)
        const { path: _path, ...artifact } = store.package(variant, version)
        return artifact
      } finally {
        rmSync(variant, { recursive: true, force: true })
      }
    },
    // Never reached when the build fails at start as it should; if it served, the suite would say so.
    smoke: runSmokeSuite,
    async load() {
      throw new Error('the drill skips the load stage')
    },
  }
}

export const deployBrokenBuild: Fault = {
  name: 'broken-build',
  description: 'deploy a build whose server dies at start',
  async run(ctx) {
    const serving = readState(ctx.target.layout.processes).serving?.artifact.version
    const report = await runPipeline({
      target: ctx.target,
      tools: brokenBuildTools(ctx, `drill-broken-${Date.now().toString(36)}`),
      skipLoad: true,
      // Not the deploy reports: latest.json stays the last real deploy.
      reportsDir: join(ctx.reportsDir, 'drill-deploys'),
    })
    const still = readState(ctx.target.layout.processes).serving?.artifact.version
    const healthy = await until(entryHealthy(ctx), 30_000)
    return {
      recovered: report.status === 'rolled_back' && still === serving && healthy,
      notes: `deploy ${report.status}${still === serving ? `, ${serving} kept serving` : `, now serving ${still}`}; reason: ${report.reason ?? 'none'}`,
    }
  },
}

export const FAULTS: Fault[] = [killReplica, stopRedis, stopPostgres, killWorkerMidSend, deployBrokenBuild]
