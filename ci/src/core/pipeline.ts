import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { formatImageRef, parseImageRef } from './artifact-ref.js'
import { type Clock, systemClock } from './clock.js'
import { GateError } from './gates.js'
import { backupAndVerify, migrateBehindBackup, type VerifiedBackup } from './migration-flow.js'
import { appendStepSummary, type Report, type RunStatus, type StageReport, writeReport } from './report.js'
import {
  errorMessage,
  type OnStageFailure,
  type PipelineEvent,
  StageRunner,
  StopRun,
} from './stage-runner.js'
import type {
  Artifact,
  DeployLock,
  LoadOutcome,
  RunContext,
  ServiceEnvironment,
  SmokeOutcome,
  StageName,
  Target,
  Tools,
} from './types.js'

export type { PipelineEvent } from './stage-runner.js'

export interface PipelineOptions {
  target: Target
  tools: Tools
  /** `ref@sha256:<digest>` of an already published artifact: promotion, no build/test/package/publish. */
  image?: string
  dryRun?: boolean
  allowDestructive?: boolean
  skipLoad?: boolean
  /** Runs the load stage even where the target does not load-test by default (production). */
  load?: boolean
  /** A verified backup older than this blocks the migration (default 30 minutes). */
  maxBackupAgeMinutes?: number
  /** Where `<runId>.json`, `<runId>.md` and `latest.json` go (default `.pipeline/reports`). */
  reportsDir?: string
  runId?: string
  /** Ctrl-C from the caller; every stage honours it. */
  signal?: AbortSignal
  stageTimeoutsMs?: Partial<Record<StageName, number>>
  onEvent?: (event: PipelineEvent) => void
  /** GitHub job summary file; defaults to $GITHUB_STEP_SUMMARY. */
  stepSummaryPath?: string
  /** Timestamps, durations, backup age and stage deadlines (default: the system clock). */
  clock?: Clock
}

export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`
}

/** One run: its settings, and what each stage hands on to the later ones. */
interface Run {
  readonly options: PipelineOptions
  readonly target: Target
  readonly tools: Tools
  readonly runner: StageRunner
  readonly runId: string
  readonly dryRun: boolean
  readonly clock: Clock
  readonly startedAt: string
  lock?: DeployLock
  /** What this run deploys: built and published, or promoted. */
  artifact?: Artifact
  url: string | null
  /** The verified backup that makes the migration safe. */
  backup?: VerifiedBackup
  /** What served before the rollout: where a failed smoke or load returns to. */
  previous?: Artifact
  env?: ServiceEnvironment
  smoked?: SmokeOutcome
  loaded: LoadOutcome | null
}

/**
 * Runs build → test → package → publish → provision → backup → migrate → rollout → smoke → load → report
 * against a Target with the given Tools, fail-fast, and returns (and writes) the report.
 */
export async function runPipeline(options: PipelineOptions): Promise<Report> {
  const run = startRun(options)
  let outcome: { status: RunStatus; reason?: string } = { status: 'succeeded' }
  try {
    await preflight(run)
    await build(run)
    await test(run)
    await packageArtifact(run)
    await publish(run)
    await provision(run)
    await backup(run)
    await migrate(run)
    await rollout(run)
    await smoke(run)
    await load(run)
  } catch (error) {
    outcome = run.runner.outcomeOf(error)
  } finally {
    await run.lock?.release().catch(() => undefined)
  }
  return report(run, outcome)
}

function startRun(options: PipelineOptions): Run {
  const { target, tools } = options
  const clock = options.clock ?? systemClock
  const runId = options.runId ?? newRunId(new Date(clock.now()))
  const dryRun = options.dryRun ?? false
  const emit = (event: PipelineEvent) => options.onEvent?.(event)
  const runner = new StageRunner({
    runId,
    target,
    dryRun,
    clock,
    signal: options.signal ?? new AbortController().signal,
    ...(options.stageTimeoutsMs ? { timeoutsMs: options.stageTimeoutsMs } : {}),
    emit,
  })
  const startedAt = new Date(clock.now()).toISOString()
  emit({ type: 'run-start', runId, target: target.name, stack: target.stack, dryRun })
  return { options, target, tools, runner, runId, dryRun, clock, startedAt, url: null, loaded: null }
}

/** The artifact the stages after publish deploy (set by build on a promotion, else by package and publish). */
function release(run: Run): Artifact {
  if (!run.artifact) throw new Error('no artifact to deploy')
  return run.artifact
}

/** The target's checklist, then the environment's deploy lock (not for a dry run, which changes nothing). */
async function preflight(run: Run): Promise<void> {
  const ctx = run.runner.context('preflight')
  try {
    const checked = await run.target.preflight(ctx)
    for (const item of checked) ctx.log.info(`preflight ok: ${item}`)
    if (!run.dryRun) run.lock = await run.target.acquireLock(ctx)
  } catch (error) {
    throw new StopRun(run.runner.scrub(errorMessage(error)))
  }
}

/** Builds the service; on a promotion (`--image`) resolves the published artifact instead. */
async function build(run: Run): Promise<void> {
  const { image } = run.options
  if (image) {
    const parsed = parseImageRef(image)
    run.artifact = await run.runner.run('build', async (ctx) => {
      const resolved = run.target.resolve
        ? await run.target.resolve(image, ctx)
        : { ...parsed, version: parsed.digest.slice('sha256:'.length, 'sha256:'.length + 12) }
      const evidence = await run.target.promotionEvidence?.(resolved, ctx)
      return {
        value: resolved,
        status: 'skipped',
        summary: `promotion of ${formatImageRef(resolved)}: nothing to build`,
        ...(evidence ? { details: { promotedFrom: evidence } } : {}),
      }
    })
    return
  }
  await run.runner.run('build', async (ctx) => ({
    value: undefined,
    summary: (await run.tools.build(ctx)).summary,
  }))
}

async function test(run: Run): Promise<void> {
  if (run.options.image) return run.runner.skip('test', 'promotion: tested when it was built')
  if (run.dryRun) return run.runner.skip('test', 'dry run: tests run on a real deploy')
  await run.runner.run('test', async (ctx) => ({
    value: undefined,
    summary: (await run.tools.test(ctx)).summary,
  }))
}

async function packageArtifact(run: Run): Promise<void> {
  if (run.options.image) return run.runner.skip('package', 'promotion: already packaged')
  run.artifact = await run.runner.run('package', async (ctx) => {
    const packaged = await run.tools.package(ctx)
    return {
      value: packaged,
      summary: `${formatImageRef(packaged)} (version ${packaged.version})`,
      details: { artifact: packaged },
    }
  })
}

async function publish(run: Run): Promise<void> {
  if (run.options.image) return run.runner.skip('publish', 'promotion: already published')
  const packaged = release(run)
  if (run.dryRun) return run.runner.skip('publish', `dry run: would publish ${formatImageRef(packaged)}`)
  run.artifact = await run.runner.run('publish', async (ctx) => {
    const published = await run.target.publish(packaged, ctx)
    return { value: published, summary: `published ${formatImageRef(published)}`, details: { published } }
  })
}

async function provision(run: Run): Promise<void> {
  await run.runner.run('provision', async (ctx) => {
    const provisioned = await run.target.provision(ctx, release(run))
    return {
      value: undefined,
      summary: provisioned.summary,
      details: {
        outputs: provisioned.outputs,
        ...(provisioned.changes ? { changes: provisioned.changes } : {}),
      },
    }
  })
  run.url = await run.target.baseUrl(run.runner.context('provision'))
}

/** A backup of the database, restored into a scratch database to prove it restores. */
async function backup(run: Run): Promise<void> {
  if (run.dryRun)
    return run.runner.skip('backup', 'dry run: would back up the database and verify the backup')
  run.backup = await run.runner.run('backup', async (ctx) => {
    const verified = await backupAndVerify(run.target, release(run), ctx, run.clock)
    return {
      value: verified,
      summary: `backup ${verified.id} taken and verified`,
      details: { backupId: verified.id, backup: verified.backup, verification: verified.verification },
    }
  })
}

/** The pending migrations' safety verdicts; then, behind a fresh verified backup, the image's `migrate`. */
async function migrate(run: Run): Promise<void> {
  const { allowDestructive = false, maxBackupAgeMinutes = 30 } = run.options
  await run.runner.run('migrate', async (ctx) => {
    const outcome = await migrateBehindBackup(run.target, release(run), ctx, {
      backup: run.backup,
      allowDestructive,
      maxBackupAgeMinutes,
      dryRun: run.dryRun,
      clock: run.clock,
    })
    const { plan, allowedDestructive } = outcome
    const pendingText = plan.pending.map((m) => `${m.name} (${m.destructive ? 'destructive' : 'safe'})`)
    const details = { applied: plan.applied, pending: plan.pending, allowedDestructive }
    switch (outcome.status) {
      case 'none-pending':
        return {
          value: undefined,
          summary: `no pending migrations (${plan.applied.length} applied)`,
          details,
        }
      case 'planned':
        return {
          value: undefined,
          status: 'skipped',
          summary: `dry run: would apply ${pendingText.join(', ')}`,
          details,
        }
      case 'applied':
        return {
          value: undefined,
          summary: `applied ${pendingText.join(', ')}`,
          details: { ...details, result: outcome.migrated, backupId: run.backup?.id },
        }
    }
  })
}

/**
 * The one way back after the new version took traffic (or failed to): the version that served before, or
 * a failure when there was none. Used by rollout, smoke and load.
 */
function rollBack(run: Run): OnStageFailure {
  return async (message, ctx) => {
    const previous = run.previous
    if (!previous) return new StopRun(`${message}; nothing to roll back to (first deploy)`)
    const restored = await run.target.rollback(ctx, previous)
    ctx.log.info(`rollback: ${restored.summary}`)
    if (restored.status === 'failed')
      return new StopRun(`${message}; rollback to ${previous.version} failed: ${restored.summary}`)
    return new StopRun(`${message}; rolled back to ${previous.version}`, 'rolled_back')
  }
}

async function rollout(run: Run): Promise<void> {
  const artifact = release(run)
  if (run.dryRun) {
    const serving = await run.target.current(run.runner.context('rollout'))
    return run.runner.skip(
      'rollout',
      `dry run: would roll out ${formatImageRef(artifact)} (${artifact.version})${serving ? ` replacing ${serving.version}` : ''}`,
    )
  }
  await run.runner.run(
    'rollout',
    async (ctx) => {
      run.previous = await run.target.current(ctx)
      const rolled = await run.target.rollout(artifact, ctx)
      // The target kept (or restored) the old version itself: nothing left for the core to undo.
      if (rolled.status === 'rolled_back') throw new StopRun(`rollout: ${rolled.summary}`, 'rolled_back')
      if (rolled.status !== 'succeeded') throw new Error(rolled.summary)
      run.previous = rolled.previous ?? run.previous
      return {
        value: undefined,
        summary: rolled.summary,
        details: { previous: run.previous ?? null, current: rolled.current ?? artifact, ...rolled.details },
      }
    },
    rollBack(run),
  )
  run.url = await run.target.baseUrl(run.runner.context('rollout'))
}

async function smoke(run: Run): Promise<void> {
  if (run.dryRun) return run.runner.skip('smoke', `dry run: would smoke-test ${run.url}`)
  run.smoked = await run.runner.run(
    'smoke',
    async (ctx) => {
      // Inside the stage: a service that cannot even set its smoke environment up (e.g. the AWS target's
      // synthetic tenant refused by the new version) fails smoke and is rolled back.
      const env = (await run.target.environment?.(ctx)) ?? { baseUrl: run.url! }
      run.env = env
      const outcome = await run.tools.smoke({
        env,
        expectVersion: release(run).version,
        signal: ctx.signal,
        log: ctx.log,
      })
      if (!outcome.passed) throw new GateError(`smoke failed: ${outcome.summary}`, outcome.details)
      return { value: outcome, summary: outcome.summary, details: outcome.details }
    },
    rollBack(run),
  )
}

/** The load gate, then (the deploy passed every gate it ran) the record of the passed release. */
async function load(run: Run): Promise<void> {
  const { skipLoad } = run.options
  const loadIsOff = run.target.loadByDefault === false && run.options.load !== true
  const loadOffReason = `${run.target.stack} is not load-tested by default (its promotion carries the load results the digest passed before; --load runs it)`
  if (run.dryRun)
    return run.runner.skip(
      'load',
      skipLoad ? '--skip-load' : loadIsOff ? loadOffReason : `dry run: would load-test ${run.url}`,
    )
  if (skipLoad) run.runner.skip('load', 'skipped (--skip-load)')
  else if (loadIsOff) run.runner.skip('load', loadOffReason)
  else
    run.loaded = await run.runner.run(
      'load',
      async (ctx) => {
        const outcome = await run.tools.load(run.url!, ctx, run.env)
        const breached = Object.entries(outcome.thresholds)
          .filter(([, t]) => !t.ok)
          .map(([name, t]) => `${name} ${t.value} (limit ${t.limit})`)
        if (!outcome.passed) {
          throw new GateError(
            `load failed (${outcome.runner}, exit ${outcome.exitCode})${breached.length ? `: ${breached.join(', ')}` : ''}`,
            { ...outcome },
          )
        }
        return {
          value: outcome,
          summary: `${outcome.runner}: ${Object.keys(outcome.thresholds).length} thresholds passed`,
          details: { ...outcome },
        }
      },
      rollBack(run),
    )
  await recordRelease(run)
}

async function recordRelease(run: Run): Promise<void> {
  if (!run.target.recordRelease || !run.smoked) return
  const ctx: RunContext = run.runner.context('load')
  try {
    const where = await run.target.recordRelease(
      { runId: run.runId, artifact: release(run), smoke: run.smoked, load: run.loaded },
      ctx,
    )
    if (where)
      run.options.onEvent?.({
        type: 'stage-log',
        stage: 'load',
        level: 'info',
        line: `release recorded at ${where}`,
      })
  } catch (error) {
    throw new StopRun(
      run.runner.scrub(`deployed, but recording the passed release failed: ${errorMessage(error)}`),
    )
  }
}

/** The last stage, whatever happened before: every stage accounted for, the report written and announced. */
function report(run: Run, outcome: { status: RunStatus; reason?: string }): Report {
  const { runner, clock, runId } = run
  const reportsDir = run.options.reportsDir ?? join('.pipeline', 'reports')
  runner.skipNotRun()
  const began = clock.now()
  const artifact = run.artifact
  const written: Report = {
    runId,
    target: run.target.name,
    stack: run.target.stack,
    status: outcome.status,
    startedAt: run.startedAt,
    finishedAt: run.startedAt,
    artifact: artifact ? { ref: artifact.ref, digest: artifact.digest, version: artifact.version } : null,
    url: run.url,
    stages: runner.stages,
    ...(outcome.reason ? { reason: outcome.reason } : {}),
    ...(run.dryRun ? { dryRun: true } : {}),
  }
  const entry: StageReport = {
    name: 'report',
    status: 'succeeded',
    startedAt: new Date(began).toISOString(),
    durationMs: 0,
    summary: join(reportsDir, `${runId}.json`),
    details: {},
  }
  const emit = (event: PipelineEvent) => run.options.onEvent?.(event)
  emit({ type: 'stage-start', stage: 'report', startedAt: entry.startedAt })
  runner.stages.push(entry)
  written.finishedAt = new Date(clock.now()).toISOString()
  entry.durationMs = clock.now() - began
  const reportPath = writeReport(written, reportsDir)
  appendStepSummary(written, run.options.stepSummaryPath)
  emit({ type: 'stage-end', stage: entry })
  emit({ type: 'run-end', report: written, reportPath })
  return written
}
