import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { freePort } from '@whatsapp-saas/api/local-services'
import autocannon from 'autocannon'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runPipeline } from '../../src/core/pipeline.js'
import type { SmokeRunner, Tools } from '../../src/core/types.js'
import { collectStatus, stopLocalEnvironment } from '../../src/local/environment-admin.js'
import { readState } from '../../src/local/environment-state.js'
import { isAlive, postgresPid } from '../../src/local/pid-probe.js'
import { ReleaseStore, treeDigest } from '../../src/local/release-store.js'
import { createLocalTarget, type LocalTarget } from '../../src/local/target.js'

// The local target end to end: real PostgreSQL, Redis, fake Graph API, entry proxy and service replicas,
// all in a temp state directory (never the developer's .pipeline), stopped at the end.

const repoRoot = resolve(import.meta.dirname, '..', '..', '..')
let stateDir: string
let entryPort: number
let target: LocalTarget
let impatientTarget: LocalTarget
let store: ReleaseStore

/** Tools over the repository's compiled service; build/test caching has its own tests. */
function releaseTools(version: string, prepare?: (releaseDir: string) => void): Tools {
  return {
    async build() {
      if (!existsSync(join(repoRoot, 'api', 'dist', 'server.js')))
        execFileSync('npm', ['run', 'build', '-w', 'api', '--silent'], { cwd: repoRoot, stdio: 'ignore' })
      return { summary: 'api/dist' }
    },
    async test() {
      return { summary: 'checked by the api suite' }
    },
    async package() {
      const { path: _path, ...artifact } = store.package(repoRoot, version)
      if (!prepare) return artifact
      // A variant of the release (e.g. a broken build): copy, change, re-address by content.
      const variant = mkdtempSync(join(tmpdir(), 'wa-variant-'))
      for (const entry of ['dist', 'package.json', 'prisma', 'prisma.config.ts'])
        if (existsSync(join(repoRoot, 'api', entry)))
          cpSync(join(repoRoot, 'api', entry), join(variant, 'api', entry), { recursive: true })
      prepare(join(variant, 'api'))
      symlinkSync(join(repoRoot, 'node_modules'), join(variant, 'node_modules'), 'dir')
      const variantStore = new ReleaseStore(target.layout.releases, target.layout.registry)
      const record = variantStore.package(variant, version)
      rmSync(variant, { recursive: true, force: true })
      const { path: _p, ...variantArtifact } = record
      return variantArtifact
    },
    smoke: versionSmoke,
    async load() {
      throw new Error('load runs in the loadtests workspace tests')
    },
  }
}

/** The smoke gate for these runs: readiness through the entry URL and the deployed version. */
const versionSmoke: SmokeRunner = async ({ env, expectVersion }) => {
  const health = await request(`${env.baseUrl}/health`)
  const status = await request(`${env.baseUrl}/api/v1/status`)
  const body = (await status.body.json()) as { version?: string }
  await health.body.dump()
  const passed = health.statusCode === 200 && body.version === expectVersion
  return { passed, summary: `health ${health.statusCode}, version ${body.version}`, details: {} }
}

async function deploy(version: string, prepare?: (dir: string) => void, on: LocalTarget = target) {
  return runPipeline({
    target: on,
    tools: releaseTools(version, prepare),
    skipLoad: true,
    reportsDir: join(stateDir, 'reports'),
    stepSummaryPath: join(stateDir, 'summary.md'),
  })
}

async function servedVersion(): Promise<string | undefined> {
  const response = await request(`http://127.0.0.1:${entryPort}/api/v1/status`)
  return ((await response.body.json()) as { version?: string }).version
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'wa-local-e2e-'))
  // PostgreSQL runs as its own system user when the tests run as root: it must reach its data directory.
  chmodSync(stateDir, 0o755)
  entryPort = await freePort()
  const options = {
    repoRoot,
    stateDir: join(stateDir, 'local'),
    entryPort,
    replicas: 2,
    drainTimeoutMs: 10_000,
  }
  // Generous: replicas start slowly on a busy machine. The broken build gets a short bound: it never passes.
  target = createLocalTarget({ ...options, readyTimeoutMs: 60_000 })
  impatientTarget = createLocalTarget({ ...options, readyTimeoutMs: 5_000 })
  store = new ReleaseStore(target.layout.releases, target.layout.registry)
})

afterAll(async () => {
  if (target) await stopLocalEnvironment(target.layout.root)
  rmSync(stateDir, { recursive: true, force: true })
})

describe('local target end to end', { timeout: 240_000 }, () => {
  it('deploys: migrated database, replicas behind the entry URL, env.json, secrets kept private', async () => {
    const report = await deploy('e2e-1')
    expect(report.reason ?? 'none').toBe('none')
    expect(report.status).toBe('succeeded')
    expect(report.url).toBe(`http://127.0.0.1:${entryPort}`)
    expect(await servedVersion()).toBe('e2e-1')

    const status = await collectStatus(target.layout.root)
    expect(status.healthy).toBe(true)
    expect(status.processes.filter((p) => p.name.startsWith('api') && p.healthy)).toHaveLength(2)

    const env = JSON.parse(readFileSync(target.layout.envFile, 'utf8'))
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining([
        'baseUrl',
        'adminToken',
        'appSecret',
        'verifyToken',
        'fakeGraphUrl',
        'phoneNumberId',
      ]),
    )
    expect(statSync(target.layout.secrets).mode & 0o777).toBe(0o600)
    const written = readFileSync(join(stateDir, 'reports', `${report.runId}.json`), 'utf8')
    expect(written).not.toContain(env.adminToken)
    expect(written).not.toContain(env.appSecret)
    expect(report.stages.find((s) => s.name === 'migrate')?.summary).toMatch(/applied|no pending/)
  })

  it('redeploys under load with zero failed requests and retires the old replicas', async () => {
    const before = readState(target.layout.processes).serving!
    let load: autocannon.Instance | undefined
    const finished = new Promise<autocannon.Result>((resolve, reject) => {
      load = autocannon(
        { url: `http://127.0.0.1:${entryPort}/health`, connections: 8, duration: 120 },
        (error, result) => (error ? reject(error) : resolve(result)),
      )
    })
    try {
      const report = await deploy('e2e-2')
      expect(report.reason ?? 'none').toBe('none')
      expect(report.status).toBe('succeeded')
    } finally {
      load?.stop()
    }
    const result = await finished
    expect(result.requests.total).toBeGreaterThan(50)
    expect(result.errors).toBe(0)
    expect(result.timeouts).toBe(0)
    expect(result.non2xx).toBe(0)
    expect(await servedVersion()).toBe('e2e-2')
    const after = readState(target.layout.processes).serving!
    expect(after.replicas.map((r) => r.pid)).not.toEqual(before.replicas.map((r) => r.pid))
    for (const old of before.replicas) expect(isAlive(old.pid)).toBe(false)
  })

  it('restarts a SIGKILLed replica and worker on their own, without a failed request through the entry URL', async () => {
    const before = readState(target.layout.processes).serving!
    const victim = before.replicas[0]!
    process.kill(victim.pid, 'SIGKILL')
    process.kill(before.worker!.pid, 'SIGKILL')
    const answers: number[] = []
    let status = await collectStatus(target.layout.root)
    const restarted = () => {
      const api = status.processes.find((p) => p.port === victim.port)
      const worker = status.processes.find((p) => p.name === 'worker')
      return api?.healthy === true && api.restarts === 1 && worker?.running === true && worker.restarts === 1
    }
    for (let i = 0; i < 300 && !restarted(); i++) {
      const response = await request(`http://127.0.0.1:${entryPort}/api/v1/status`)
      answers.push(response.statusCode)
      await response.body.dump()
      await new Promise((r) => setTimeout(r, 100))
      status = await collectStatus(target.layout.root)
    }
    expect(restarted()).toBe(true)
    expect(answers.filter((code) => code !== 200)).toEqual([])
    const api = status.processes.find((p) => p.port === victim.port)!
    expect(api.pid).not.toBe(victim.pid)
    expect(api.lastExit?.pid).toBe(victim.pid)
    expect(status.proxy?.failed).toBe(0)
  })

  it('keeps the old version serving when the new one never becomes ready (rolled_back)', async () => {
    const report = await deploy(
      'e2e-broken',
      (apiDir) => {
        // Listens, but its readiness probe never passes.
        writeFileSync(
          join(apiDir, 'dist', 'server.js'),
          "import { createServer } from 'node:http'\ncreateServer((_, res) => { res.writeHead(503); res.end() }).listen(Number(process.env.PORT), '127.0.0.1')\n",
        )
      },
      impatientTarget,
    )
    expect([report.status, report.reason]).toEqual([
      'rolled_back',
      expect.stringContaining('never became ready'),
    ])
    expect(report.artifact?.digest).not.toBe(treeDigest(join(repoRoot, 'api')))
    expect(await servedVersion()).toBe('e2e-2')
    const serving = readState(target.layout.processes).serving!
    expect(serving.artifact.version).toBe('e2e-2')
    expect(serving.replicas.every((r) => isAlive(r.pid))).toBe(true)
  })

  it('refuses a second deploy while one holds the lock, naming the holder', async () => {
    writeFileSync(
      target.layout.lock,
      JSON.stringify({
        pid: process.pid,
        host: (await import('node:os')).hostname(),
        runId: 'run-held',
        since: '2026-01-01T00:00:00Z',
      }),
    )
    try {
      const report = await deploy('e2e-3')
      expect(report.status).toBe('failed')
      expect(report.reason).toContain(`pid ${process.pid}`)
      expect(report.reason).toContain('run run-held')
      expect(await servedVersion()).toBe('e2e-2')
    } finally {
      rmSync(target.layout.lock, { force: true })
    }
  })

  it('--dry-run changes nothing', async () => {
    const before = readFileSync(target.layout.processes, 'utf8')
    const report = await runPipeline({
      target,
      tools: releaseTools('e2e-dry'),
      dryRun: true,
      reportsDir: join(stateDir, 'reports'),
      stepSummaryPath: join(stateDir, 'summary.md'),
    })
    expect(report.status).toBe('succeeded')
    expect(report.stages.find((s) => s.name === 'migrate')?.summary).toMatch(/no pending|would apply/)
    expect(readFileSync(target.layout.processes, 'utf8')).toBe(before)
    expect(existsSync(target.layout.lock)).toBe(false)
    expect(await servedVersion()).toBe('e2e-2')
  })

  it('rolls back to the previous version on request', async () => {
    const result = await target.rollback({
      runId: 'rollback',
      target: 'local',
      stack: 'local',
      dryRun: false,
      signal: new AbortController().signal,
      log: { info: () => undefined, warn: () => undefined },
    })
    expect([result.status, result.summary]).toEqual([
      'rolled_back',
      expect.stringContaining('rolled back to e2e-1'),
    ])
    expect(await servedVersion()).toBe('e2e-1')
  })

  it('local down stops every process', async () => {
    const state = readState(target.layout.processes)
    const pids = [
      ...state.serving!.replicas.map((r) => r.pid),
      state.serving!.worker!.pid,
      state.proxy!.pid,
      state.supervisor!.pid,
      ...(state.fakeGraph ? [state.fakeGraph.pid] : []),
    ]
    await stopLocalEnvironment(target.layout.root)
    for (const pid of pids) expect(isAlive(pid)).toBe(false)
    const status = await collectStatus(target.layout.root)
    expect(status.processes.every((p) => !p.running)).toBe(true)
  })

  it('a dry run with the environment stopped reads the applied migrations from the data directory', async () => {
    const report = await runPipeline({
      target,
      tools: releaseTools('e2e-dry-stopped'),
      dryRun: true,
      reportsDir: join(stateDir, 'reports'),
      stepSummaryPath: join(stateDir, 'summary.md'),
    })
    const migrate = report.stages.find((s) => s.name === 'migrate')
    // Every migration of this release was applied by the first deploy: none may be listed as pending.
    expect(migrate?.summary).toMatch(/^no pending migrations \([1-9]\d* applied\)/)
    // Read without starting anything: no server runs afterwards either.
    expect(postgresPid(target.layout.postgres)).toBeUndefined()
  })
})
