import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '@whatsapp-saas/local-services'
import autocannon from 'autocannon'
import type { Benchmark, BenchResult } from './types.js'

// `npm run deploy` on the local target, measured in a temp state dir: cold (dependencies installed, nothing
// running, no build cache), warm (no change), the rollout of 2 replicas, and failed requests during a rollout
// under load. Targets: cold < 60 s with its load stage, warm < 20 s, rollout < 10 s, 0 failed requests. The
// cold deploy runs every stage, load included (its time is also reported on its own); the later deploys skip
// the load stage, which measures the service, not the pipeline.

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')

interface DeployRun {
  durationMs: number
  status: string
  rolloutMs: number
  /** Each stage's status and duration, as the report gives them. */
  stages: Record<string, { status: string; durationMs: number }>
  /** Why the deploy failed, as its report says (a breached load threshold names itself here). */
  reason?: string
}

function deploy(env: NodeJS.ProcessEnv, withLoad = false): Promise<DeployRun> {
  const started = Date.now()
  return new Promise((resolvePromise, reject) => {
    // Exactly what a user runs: `npm run deploy`.
    const args = ['run', '--silent', 'deploy', '--', '--json', ...(withLoad ? [] : ['--skip-load'])]
    const child = spawn('npm', args, {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    let out = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
    })
    child.once('error', reject)
    child.once('close', () => {
      try {
        const report = JSON.parse(out) as {
          status: string
          reason?: string
          stages: { name: string; status: string; durationMs: number; details: { rolloutMs?: number } }[]
        }
        const rollout = report.stages.find((s) => s.name === 'rollout')
        resolvePromise({
          durationMs: Date.now() - started,
          status: report.status,
          rolloutMs: rollout?.details.rolloutMs ?? -1,
          ...(report.reason ? { reason: report.reason } : {}),
          stages: Object.fromEntries(
            report.stages.map((stage) => [
              stage.name,
              { status: stage.status, durationMs: stage.durationMs },
            ]),
          ),
        })
      } catch {
        reject(new Error(`deploy printed no report: ${out.slice(0, 200)}`))
      }
    })
  })
}

function localDown(env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolvePromise) => {
    const child = spawn('npx', ['tsx', 'ci/src/cli/main.ts', 'local', 'down'], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: 'ignore',
    })
    child.once('close', () => resolvePromise())
  })
}

const result = (name: string, durationMs: number, extra: Record<string, unknown> = {}): BenchResult => ({
  name,
  reqPerSec: 0,
  p50Ms: durationMs,
  p99Ms: durationMs,
  errors: 0,
  baseline: null,
  durationMs,
  ...extra,
})

const bench: Benchmark = async () => {
  const pipelineDir = mkdtempSync(join(tmpdir(), 'wa-deploy-bench-'))
  // PostgreSQL runs as its own system user under root: it must reach its data directory.
  chmodSync(pipelineDir, 0o755)
  const entryPort = await freePort()
  const env = { PIPELINE_DIR: pipelineDir, LOCAL_ENTRY_PORT: String(entryPort) }
  try {
    const cold = await deploy(env, true)
    const warm = await deploy(env)

    // A third deploy under load: every failed or non-2xx request through the entry URL counts.
    let instance: autocannon.Instance | undefined
    const loaded = new Promise<autocannon.Result>((resolvePromise, reject) => {
      instance = autocannon(
        { url: `http://127.0.0.1:${entryPort}/health`, connections: 10, duration: 300 },
        (error, outcome) => (error ? reject(error) : resolvePromise(outcome)),
      )
    })
    const underLoad = await deploy(env)
    instance?.stop()
    const load = await loaded
    const failed = load.errors + load.timeouts + load.non2xx
    const stateDir = join(pipelineDir, 'local')
    const replicas = (
      JSON.parse(readFileSync(join(stateDir, 'processes.json'), 'utf8')) as {
        serving?: { replicas: unknown[] }
      }
    ).serving?.replicas.length

    return [
      result('deploy-cold', cold.durationMs, {
        status: cold.status,
        loadStageMs: cold.stages.load?.durationMs ?? null,
        loadStatus: cold.stages.load?.status ?? null,
        ...(cold.reason ? { reason: cold.reason } : {}),
        stages: cold.stages,
        targetMs: 60_000,
      }),
      result('deploy-warm-no-change', warm.durationMs, { status: warm.status, targetMs: 20_000 }),
      result('deploy-rollout', underLoad.rolloutMs, { replicas, status: underLoad.status, targetMs: 10_000 }),
      {
        name: 'deploy-rollout-under-load',
        reqPerSec: load.requests.average,
        p50Ms: load.latency.p50,
        p99Ms: load.latency.p99,
        errors: failed,
        baseline: null,
        failedRequests: failed,
        requests: load.requests.total,
        durationMs: underLoad.durationMs,
        status: underLoad.status,
      },
    ]
  } finally {
    await localDown(env)
    rmSync(pipelineDir, { recursive: true, force: true })
  }
}

export default bench
