import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type PipelineOptions, runPipeline } from '../../src/core/pipeline.js'
import { type Report, reportProblems } from '../../src/core/report.js'
import { STAGES } from '../../src/core/types.js'
import { ManualClock } from './manual-clock.js'
import { BUILT, destructiveStatus, okOps, opsFailure, type Script, SERVING, scripted } from './scripted.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ci-core-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

async function run(script: Script, options: Partial<PipelineOptions> = {}) {
  const s = scripted(script)
  const report = await runPipeline({
    target: s.target,
    tools: s.tools,
    reportsDir: join(dir, 'reports'),
    stepSummaryPath: join(dir, 'summary.md'),
    clock: new ManualClock(),
    ...options,
  })
  // Whatever happened, the report is one of this pipeline's: every stage once, in order.
  expect(reportProblems(report)).toEqual([])
  return { ...s, report }
}

const stage = (report: Report, name: string) => report.stages.find((s) => s.name === name)!

describe('runPipeline with a scripted target', () => {
  it('runs every stage in order and writes the report', async () => {
    const { calls, report } = await run({ current: SERVING })
    expect(report.status).toBe('succeeded')
    expect(report.stages.map((s) => s.name)).toEqual([...STAGES])
    expect(report.stages.every((s) => s.status === 'succeeded')).toBe(true)
    expect(calls).toEqual([
      'preflight',
      'lock',
      'build',
      'test',
      'package',
      'publish new1234',
      'provision',
      'ops backup',
      'ops verify-backup',
      'ops migration-status',
      'ops migrate',
      'rollout new1234',
      'smoke',
      'load',
      'unlock',
    ])
    expect(report.artifact).toEqual({ ref: BUILT.ref, digest: BUILT.digest, version: BUILT.version })
    const written = JSON.parse(readFileSync(join(dir, 'reports', `${report.runId}.json`), 'utf8'))
    expect(written).toEqual(JSON.parse(readFileSync(join(dir, 'reports', 'latest.json'), 'utf8')))
    expect(written.status).toBe('succeeded')
    expect(readFileSync(join(dir, 'summary.md'), 'utf8')).toContain('| migrate |')
  })

  it('fails fast: a failing build stops before anything is deployed', async () => {
    const { calls, report } = await run({
      build: () => Promise.reject(new Error('tsc: 3 errors\nsecond line')),
    })
    expect(report.status).toBe('failed')
    expect(report.reason).toBe('build: tsc: 3 errors')
    expect(calls).not.toContain('provision')
    expect(calls).toContain('unlock')
    expect(stage(report, 'rollout').status).toBe('skipped')
  })

  it('stops before migrating when verify-backup fails', async () => {
    const { calls, report } = await run({
      ops: async (c) =>
        c.name === 'verify-backup'
          ? {
              exitCode: 1,
              output: ['verify bk-1: restoring'],
              result: opsFailure('verify-backup', 'verify bk-1: row counts differ from the manifest'),
            }
          : okOps(c),
    })
    expect(report.status).toBe('failed')
    expect(report.reason).toBe(
      'backup: backup bk-1 failed verification: verify bk-1: row counts differ from the manifest',
    )
    expect(calls).not.toContain('ops migrate')
    expect(calls).not.toContain('ops migration-status')
  })

  it('stops on a destructive migration and shows the statement, unless --allow-destructive', async () => {
    const destructive = async (c: Parameters<typeof okOps>[0]) =>
      c.name === 'migration-status'
        ? {
            exitCode: 0,
            output: [],
            result: destructiveStatus(
              '0003_drop_legacy',
              'drop-column',
              'ALTER TABLE "Contact" DROP COLUMN "legacy"',
            ),
          }
        : okOps(c)
    const refused = await run({ ops: destructive })
    expect(refused.report.status).toBe('failed')
    expect(refused.report.reason).toContain('0003_drop_legacy needs --allow-destructive')
    expect(refused.report.reason).toContain('DROP COLUMN "legacy"')
    expect(refused.calls).not.toContain('ops migrate')
    expect(stage(refused.report, 'migrate').details.findings).toHaveLength(1)

    const allowed = await run({ ops: destructive }, { allowDestructive: true })
    expect(allowed.report.status).toBe('succeeded')
    expect(allowed.calls).toContain('ops migrate')
  })

  it('refuses to migrate with a backup older than the limit', async () => {
    const clock = new ManualClock()
    const { calls, report } = await run(
      {
        ops: async (c) => {
          // The verification takes 21 minutes of a 20-minute limit.
          if (c.name === 'verify-backup') clock.advance(21 * 60_000)
          return okOps(c)
        },
      },
      { clock, maxBackupAgeMinutes: 20 },
    )
    expect(report.status).toBe('failed')
    expect(report.reason).toBe('migrate: backup bk-1 is 21.0 min old (limit 20 min)')
    expect(calls).not.toContain('ops migrate')
  })

  it('migrates with a backup just inside the limit', async () => {
    const clock = new ManualClock()
    const { calls, report } = await run(
      {
        ops: async (c) => {
          if (c.name === 'verify-backup') clock.advance(29 * 60_000)
          return okOps(c)
        },
      },
      { clock },
    )
    expect(report.status).toBe('succeeded')
    expect(calls).toContain('ops migrate')
    expect(stage(report, 'backup').durationMs).toBe(29 * 60_000)
  })

  it('passes the backup age limit to the migrate command', async () => {
    const seen: unknown[] = []
    const ops = async (c: Parameters<typeof okOps>[0]) => {
      seen.push(c)
      return okOps(c)
    }
    await run({ ops }, { maxBackupAgeMinutes: 12 })
    expect(seen).toContainEqual({ name: 'migrate', maxBackupAgeMinutes: 12 })
  })

  it('rolls back to the previous version when smoke fails after rollout', async () => {
    const s = await run({
      current: SERVING,
      smoke: async () => ({ passed: false, summary: 'health 503', details: {} }),
    })
    expect(s.report.status).toBe('rolled_back')
    expect(s.calls).toContain('rollback old1234')
    expect(s.calls).not.toContain('load')
    expect(s.serving()).toEqual(SERVING)
    expect(stage(s.report, 'smoke').status).toBe('failed')
    expect(s.report.reason).toContain('smoke failed: health 503')
  })

  it('rolls back when load breaches a threshold', async () => {
    const s = await run({
      current: SERVING,
      load: async () => ({
        runner: 'autocannon',
        passed: false,
        exitCode: 99,
        thresholds: { http_req_failed: { value: 0.2, limit: 'rate<0.01', ok: false } },
      }),
    })
    expect(s.report.status).toBe('rolled_back')
    expect(s.report.reason).toContain('http_req_failed 0.2 (limit rate<0.01)')
    expect(s.calls.at(-2)).toBe('rollback old1234')
  })

  it('a failed smoke on a first deploy is a failure with nothing to roll back to', async () => {
    const s = await run({ smoke: async () => ({ passed: false, summary: 'down', details: {} }) })
    expect(s.report.status).toBe('failed')
    expect(s.report.reason).toContain('nothing to roll back to')
  })

  it('reports rolled_back when the target kept the old version (new one never ready)', async () => {
    const s = await run({
      current: SERVING,
      rollout: async () => ({
        status: 'rolled_back',
        previous: SERVING,
        summary: 'new replicas never became ready',
      }),
    })
    expect(s.report.status).toBe('rolled_back')
    expect(s.report.reason).toBe('rollout: new replicas never became ready')
    expect(s.calls).not.toContain('smoke')
    expect(s.calls.filter((c) => c.startsWith('rollback'))).toEqual([])
  })

  it('rolls back itself when the target reports a failed rollout', async () => {
    const s = await run({
      current: SERVING,
      rollout: async () => ({ status: 'failed', summary: 'deployment timed out' }),
    })
    expect(s.report.status).toBe('rolled_back')
    expect(s.calls).toContain('rollback old1234')
    expect(s.report.reason).toBe('rollout: deployment timed out; rolled back to old1234')
  })

  it('names the holder when the deploy lock is taken, and changes nothing', async () => {
    const s = await run({
      lock: () =>
        Promise.reject(
          new Error('deploy lock held by pid 42 on host ci-1 (run r-7 since 2026-01-01T00:00:00Z)'),
        ),
    })
    expect(s.report.status).toBe('failed')
    expect(s.report.reason).toBe(
      'deploy lock held by pid 42 on host ci-1 (run r-7 since 2026-01-01T00:00:00Z)',
    )
    expect(s.calls).toEqual(['preflight', 'lock'])
    expect(s.report.stages.filter((x) => x.name !== 'report').every((x) => x.status === 'skipped')).toBe(true)
  })

  it('fails with the unmet preflight items', async () => {
    const s = await run({ preflight: () => Promise.reject(new Error('preflight: certificate not ISSUED')) })
    expect(s.report.reason).toBe('preflight: certificate not ISSUED')
    expect(s.calls).toEqual(['preflight'])
  })

  it('--dry-run plans without publishing, backing up, migrating or rolling out', async () => {
    const s = await run({ current: SERVING }, { dryRun: true })
    expect(s.report.status).toBe('succeeded')
    expect(s.report.dryRun).toBe(true)
    expect(s.calls).toEqual(['preflight', 'build', 'package', 'provision (plan)', 'ops migration-status'])
    expect(stage(s.report, 'migrate').summary).toBe('dry run: would apply 0002_add_index (safe)')
    expect(stage(s.report, 'rollout').summary).toContain('replacing old1234')
    expect(s.serving()).toEqual(SERVING)
  })

  it('--image promotes an existing artifact: no build, test, package or publish', async () => {
    const image = `registry.example/whatsapp-saas-api@${BUILT.digest}`
    const s = await run({ current: SERVING }, { image })
    expect(s.report.status).toBe('succeeded')
    expect(s.calls).not.toContain('build')
    expect(s.calls).not.toContain('test')
    expect(s.calls).not.toContain('package')
    expect(s.calls.some((c) => c.startsWith('publish'))).toBe(false)
    expect(s.calls).toContain(`rollout ${BUILT.digest.slice(7, 19)}`)
    expect(s.report.artifact?.ref).toBe('registry.example/whatsapp-saas-api')
    for (const name of ['build', 'test', 'package', 'publish'])
      expect(stage(s.report, name).status).toBe('skipped')
  })

  it('refuses an --image that is not pinned by digest', async () => {
    const s = await run({}, { image: 'registry.example/whatsapp-saas-api:latest' })
    expect(s.report.status).toBe('failed')
    expect(s.report.reason).toContain('immutable digest')
    expect(s.calls).not.toContain('provision')
  })

  it('times a hung stage out with a clear reason', async () => {
    const clock = new ManualClock()
    const s = await run(
      {
        build: () => {
          clock.advance(10 * 60_000)
          return new Promise(() => undefined)
        },
      },
      { clock },
    )
    expect(s.report.reason).toBe('build: build timed out after 600 s')
    expect(stage(s.report, 'build').durationMs).toBe(10 * 60_000)
    expect(s.calls).not.toContain('test')
  })

  it('a stage inside its deadline is not timed out', async () => {
    const clock = new ManualClock()
    const s = await run(
      {
        build: async () => {
          clock.advance(10 * 60_000 - 1)
          return { summary: 'built slowly' }
        },
      },
      { clock },
    )
    expect(s.report.status).toBe('succeeded')
  })

  it('reports a failed rollback after a failed smoke as a failure, not a rollback', async () => {
    const s = await run({
      current: SERVING,
      smoke: async () => ({ passed: false, summary: 'health 503', details: {} }),
      rollback: async () => ({ status: 'failed', summary: 'old replicas never became ready' }),
    })
    expect(s.report.status).toBe('failed')
    expect(s.report.reason).toBe(
      'smoke: smoke failed: health 503; rollback to old1234 failed: old replicas never became ready',
    )
  })

  it('rolls back the same way after a failed rollout, a failed smoke and a failed load', async () => {
    const reasons = await Promise.all([
      run({ current: SERVING, rollout: async () => ({ status: 'failed', summary: 'deployment timed out' }) }),
      run({ current: SERVING, smoke: async () => ({ passed: false, summary: 'down', details: {} }) }),
      run({
        current: SERVING,
        load: async () => ({ runner: 'autocannon', passed: false, exitCode: 1, thresholds: {} }),
      }),
    ])
    for (const s of reasons) {
      expect(s.report.status).toBe('rolled_back')
      expect(s.report.reason).toMatch(/; rolled back to old1234$/)
      const failed = s.report.stages.find((x) => x.status === 'failed')!
      expect(failed.details.log).toContain('rollback: restored')
    }
  })

  it('scrubs the reason a target gives when its rollout rolled itself back', async () => {
    const secret = 'adm_0123456789abcdef0123'
    const s = await run({
      current: SERVING,
      secrets: [secret],
      rollout: async () => ({
        status: 'rolled_back',
        previous: SERVING,
        current: SERVING,
        summary: `never became ready (Error: ADMIN_TOKEN ${secret} rejected | …)`,
      }),
    })
    expect(s.report.status).toBe('rolled_back')
    expect(s.report.reason).toContain('Error: ADMIN_TOKEN *** rejected')
    expect(s.report.reason).not.toContain(secret)
  })

  it('never writes a secret into logs or the report', async () => {
    const secret = 'sk_live_0123456789abcdef'
    const lines: string[] = []
    const s = await run(
      {
        secrets: [secret],
        ops: async (c) =>
          c.name === 'backup'
            ? {
                exitCode: 1,
                output: ['backup: dumping'],
                result: opsFailure('backup', `connect postgresql://app:${secret}@db/x failed`),
              }
            : okOps(c),
      },
      { onEvent: (e) => e.type === 'stage-log' && lines.push(e.line) },
    )
    expect(s.report.reason).toContain('***')
    expect(s.report.reason).not.toContain(secret)
    expect(lines.join('\n')).not.toContain(secret)
    const written = readFileSync(join(dir, 'reports', `${s.report.runId}.json`), 'utf8')
    expect(written).not.toContain(secret)
    expect(existsSync(join(dir, 'summary.md'))).toBe(true)
    expect(readFileSync(join(dir, 'summary.md'), 'utf8')).not.toContain(secret)
  })
})
