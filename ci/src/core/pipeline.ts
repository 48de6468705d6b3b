import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { formatImageRef, parseImageRef } from './artifact-ref.js'
import { backupIdOf, backupVerified, checkDestructive, GateError, parseMigrationStatus } from './gates.js'
import { appendStepSummary, type Report, type RunStatus, type StageReport, writeReport } from './report.js'
import { createScrubber } from './scrub.js'
import {
  type Artifact,
  type DeployLock,
  type LoadOutcome,
  type RunContext,
  type ServiceEnvironment,
  type SmokeOutcome,
  type SmokeRunner,
  STAGES,
  type StageLog,
  type StageName,
  type Target,
  type Tools,
} from './types.js'

export interface PipelineOptions {
  target: Target
  tools: Tools
  /** Runs the smoke suite; defaults to smoke/'s `runSmoke` (loaded only when the smoke stage runs). */
  smoke?: SmokeRunner
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
}

export type PipelineEvent =
  | { type: 'run-start'; runId: string; target: string; stack: string; dryRun: boolean }
  | { type: 'stage-start'; stage: StageName; startedAt: string }
  | { type: 'stage-log'; stage: StageName | 'preflight'; level: 'info' | 'warn'; line: string }
  | { type: 'stage-end'; stage: StageReport }
  | { type: 'run-end'; report: Report; reportPath: string }

const DEFAULT_TIMEOUTS_MS: Record<StageName, number> = {
  build: 10 * 60_000,
  test: 20 * 60_000,
  package: 15 * 60_000,
  publish: 15 * 60_000,
  provision: 45 * 60_000,
  backup: 30 * 60_000,
  migrate: 30 * 60_000,
  rollout: 30 * 60_000,
  smoke: 10 * 60_000,
  load: 15 * 60_000,
  report: 60_000,
}

/** Kept per stage in the report: the tail of its log, enough to see why it failed. */
const LOG_TAIL_LINES = 20

/** Internal: ends the run after a stage recorded its failure. */
class StopRun extends Error {
  constructor(
    readonly reason: string,
    readonly status: RunStatus = 'failed',
  ) {
    super(reason)
  }
}

interface StageOutcome<T> {
  value: T
  summary: string
  details?: Record<string, unknown>
  status?: 'succeeded' | 'skipped'
}

export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`
}

function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.split('\n')[0]!.trim() || 'unknown error'
}

/**
 * Runs build → test → package → publish → provision → backup → migrate → rollout → smoke → load → report
 * against a Target with the given Tools, fail-fast, and returns (and writes) the report.
 */
export async function runPipeline(options: PipelineOptions): Promise<Report> {
  const { target, tools } = options
  const runId = options.runId ?? newRunId()
  const dryRun = options.dryRun ?? false
  const maxBackupAgeMinutes = options.maxBackupAgeMinutes ?? 30
  const reportsDir = options.reportsDir ?? join('.pipeline', 'reports')
  const parentSignal = options.signal ?? new AbortController().signal
  // Rebuilt per line: a target may learn secrets during the run (e.g. the AWS target reads the admin token
  // from Secrets Manager only when the smoke stage needs it).
  const scrub = (text: string) => createScrubber(target.secretValues?.() ?? [])(text)
  // Read when the load stage comes: a target may only know it once its stack outputs are read.
  const loadIsOff = () => target.loadByDefault === false && options.load !== true
  const loadOffReason = `${target.stack} is not load-tested by default (its promotion carries the load results the digest passed before; --load runs it)`
  const emit = (event: PipelineEvent) => options.onEvent?.(event)
  const startedAt = new Date().toISOString()
  const stages: StageReport[] = []
  let status: RunStatus = 'succeeded'
  let reason: string | undefined
  let artifact: Artifact | undefined
  let url: string | null = null

  const contextFor = (stage: StageName | 'preflight', signal: AbortSignal, tail: string[]): RunContext => {
    const write = (level: 'info' | 'warn') => (line: string) => {
      const clean = scrub(line)
      tail.push(level === 'warn' ? `warn: ${clean}` : clean)
      if (tail.length > LOG_TAIL_LINES) tail.shift()
      emit({ type: 'stage-log', stage, level, line: clean })
    }
    const log: StageLog = { info: write('info'), warn: write('warn') }
    return { runId, target: target.name, stack: target.stack, dryRun, log, signal }
  }

  const skip = (name: StageName, summary: string): void => {
    const entry: StageReport = {
      name,
      status: 'skipped',
      startedAt: new Date().toISOString(),
      durationMs: 0,
      summary,
      details: {},
    }
    stages.push(entry)
    emit({ type: 'stage-start', stage: name, startedAt: entry.startedAt })
    emit({ type: 'stage-end', stage: entry })
  }

  /** Runs one stage with its timeout; records it; on error records the failure and stops the run. */
  const stage = async <T>(
    name: StageName,
    body: (ctx: RunContext) => Promise<StageOutcome<T>>,
    onFailure?: (message: string, ctx: RunContext) => Promise<StopRun>,
  ): Promise<T> => {
    const began = Date.now()
    const entryStart = new Date(began).toISOString()
    emit({ type: 'stage-start', stage: name, startedAt: entryStart })
    const timeoutMs = options.stageTimeoutsMs?.[name] ?? DEFAULT_TIMEOUTS_MS[name]
    const timeout = AbortSignal.timeout(timeoutMs)
    const signal = AbortSignal.any([parentSignal, timeout])
    const tail: string[] = []
    const ctx = contextFor(name, signal, tail)
    const finish = (entry: Omit<StageReport, 'name' | 'startedAt' | 'durationMs'>) => {
      const report: StageReport = {
        name,
        startedAt: entryStart,
        durationMs: Date.now() - began,
        ...entry,
        summary: scrub(entry.summary),
      }
      stages.push(report)
      emit({ type: 'stage-end', stage: report })
    }
    try {
      const aborted = new Promise<never>((_, reject) => {
        const fail = () =>
          reject(
            new Error(
              timeout.aborted
                ? `${name} timed out after ${Math.round(timeoutMs / 1000)} s`
                : `${name} interrupted (${errorMessage(parentSignal.reason)})`,
            ),
          )
        if (signal.aborted) fail()
        signal.addEventListener('abort', fail, { once: true })
      })
      const outcome = await Promise.race([body(ctx), aborted])
      finish({
        status: outcome.status ?? 'succeeded',
        summary: outcome.summary,
        details: scrubDetails(outcome.details ?? {}, scrub, tail),
      })
      return outcome.value
    } catch (error) {
      if (error instanceof StopRun) {
        finish({ status: 'failed', summary: error.reason, details: scrubDetails({}, scrub, tail) })
        throw error
      }
      const message = scrub(`${name}: ${errorMessage(error)}`)
      const details = error instanceof GateError ? error.details : {}
      let stop = new StopRun(message)
      if (onFailure) {
        try {
          stop = await onFailure(message, contextFor(name, parentSignal, tail))
        } catch (rollbackError) {
          stop = new StopRun(`${message}; rollback failed: ${scrub(errorMessage(rollbackError))}`)
        }
      }
      finish({ status: 'failed', summary: stop.reason, details: scrubDetails(details, scrub, tail) })
      throw stop
    }
  }

  emit({ type: 'run-start', runId, target: target.name, stack: target.stack, dryRun })
  let lock: DeployLock | undefined
  let previous: Artifact | undefined
  let env: ServiceEnvironment | undefined
  try {
    const preflightTail: string[] = []
    const preflightCtx = contextFor('preflight', parentSignal, preflightTail)
    try {
      const checked = await target.preflight(preflightCtx)
      for (const item of checked) preflightCtx.log.info(`preflight ok: ${item}`)
      if (!dryRun) lock = await target.acquireLock(preflightCtx)
    } catch (error) {
      throw new StopRun(scrub(errorMessage(error)))
    }

    // build → test → package: skipped when promoting an existing artifact.
    if (options.image) {
      const parsed = parseImageRef(options.image)
      const promoted = await stage('build', async (ctx) => {
        const resolved = target.resolve
          ? await target.resolve(options.image!, ctx)
          : { ...parsed, version: parsed.digest.slice('sha256:'.length, 'sha256:'.length + 12) }
        const evidence = await target.promotionEvidence?.(resolved, ctx)
        return {
          value: resolved,
          status: 'skipped',
          summary: `promotion of ${formatImageRef(resolved)}: nothing to build`,
          ...(evidence ? { details: { promotedFrom: evidence } } : {}),
        }
      })
      artifact = promoted
      skip('test', 'promotion: tested when it was built')
      skip('package', 'promotion: already packaged')
      skip('publish', 'promotion: already published')
    } else {
      await stage('build', async (ctx) => {
        const built = await tools.build(ctx)
        return { value: undefined, summary: built.summary }
      })
      if (dryRun) skip('test', 'dry run: tests run on a real deploy')
      else
        await stage('test', async (ctx) => {
          const tested = await tools.test(ctx)
          return { value: undefined, summary: tested.summary }
        })
      artifact = await stage('package', async (ctx) => {
        const packaged = await tools.package(ctx)
        return {
          value: packaged,
          summary: `${formatImageRef(packaged)} (version ${packaged.version})`,
          details: { artifact: packaged },
        }
      })
      if (dryRun) skip('publish', `dry run: would publish ${formatImageRef(artifact)}`)
      else
        artifact = await stage('publish', async (ctx) => {
          const published = await target.publish(artifact!, ctx)
          return {
            value: published,
            summary: `published ${formatImageRef(published)}`,
            details: { published },
          }
        })
    }
    const release = artifact

    await stage('provision', async (ctx) => {
      const provisioned = await target.provision(ctx, release)
      return {
        value: undefined,
        summary: provisioned.summary,
        details: {
          outputs: provisioned.outputs,
          ...(provisioned.changes ? { changes: provisioned.changes } : {}),
        },
      }
    })
    url = await target.baseUrl(contextFor('provision', parentSignal, []))

    let verifiedBackup: { id: string; at: number } | undefined
    if (dryRun) skip('backup', 'dry run: would back up the database and verify the backup')
    else
      verifiedBackup = await stage('backup', async (ctx) => {
        const backup = await target.runOps({ name: 'backup' }, release, ctx)
        if (backup.exitCode !== 0)
          throw new Error(`backup failed (exit ${backup.exitCode}): ${backup.output.at(-1) ?? ''}`)
        const id = backupIdOf(backup)
        const at = Date.now()
        const verify = await target.runOps({ name: 'verify-backup', backupId: id }, release, ctx)
        if (!backupVerified(verify))
          throw new GateError(`backup ${id} failed verification: ${verify.output.at(-1) ?? 'no output'}`)
        return {
          value: { id, at },
          summary: `backup ${id} taken and verified`,
          details: { backupId: id, backup: backup.result, verification: verify.result },
        }
      })

    await stage('migrate', async (ctx) => {
      const plan = parseMigrationStatus(await target.runOps({ name: 'migration-status' }, release, ctx))
      const findings = checkDestructive(plan, options.allowDestructive ?? false)
      const pendingText = plan.pending.map((m) => `${m.name} (${m.destructive ? 'destructive' : 'safe'})`)
      const details = { applied: plan.applied, pending: plan.pending, allowedDestructive: findings }
      if (plan.pending.length === 0) {
        return {
          value: undefined,
          summary: `no pending migrations (${plan.applied.length} applied)`,
          details,
        }
      }
      if (dryRun) {
        return {
          value: undefined,
          status: 'skipped',
          summary: `dry run: would apply ${pendingText.join(', ')}`,
          details,
        }
      }
      // Gate: a verified backup younger than the limit. The backup stage ran just before, but a slow
      // verification or a paused run could have aged it.
      if (!verifiedBackup) throw new GateError('no verified backup: migrations never run without one')
      const ageMinutes = (Date.now() - verifiedBackup.at) / 60_000
      if (ageMinutes > maxBackupAgeMinutes)
        throw new GateError(
          `backup ${verifiedBackup.id} is ${ageMinutes.toFixed(1)} min old (limit ${maxBackupAgeMinutes} min)`,
        )
      const migrated = await target.runOps(
        { name: 'migrate', maxBackupAgeMinutes, ...(findings.length > 0 ? { allowDestructive: true } : {}) },
        release,
        ctx,
      )
      if (migrated.exitCode !== 0) {
        throw new Error(
          `migration failed (exit ${migrated.exitCode}): ${migrated.output.at(-1) ?? ''}; backup ${verifiedBackup.id} restores the database`,
        )
      }
      return {
        value: undefined,
        summary: `applied ${pendingText.join(', ')}`,
        details: { ...details, result: migrated.result, backupId: verifiedBackup.id },
      }
    })

    if (dryRun) {
      const serving = await target.current(contextFor('rollout', parentSignal, []))
      skip(
        'rollout',
        `dry run: would roll out ${formatImageRef(release)} (${release.version})${serving ? ` replacing ${serving.version}` : ''}`,
      )
      skip('smoke', `dry run: would smoke-test ${url}`)
      skip(
        'load',
        options.skipLoad ? '--skip-load' : loadIsOff() ? loadOffReason : `dry run: would load-test ${url}`,
      )
    } else {
      await stage(
        'rollout',
        async (ctx) => {
          previous = await target.current(ctx)
          const rolled = await target.rollout(release, ctx)
          if (rolled.status === 'rolled_back') throw new StopRun(`rollout: ${rolled.summary}`, 'rolled_back')
          if (rolled.status !== 'succeeded') throw new Error(rolled.summary)
          previous = rolled.previous ?? previous
          return {
            value: undefined,
            summary: rolled.summary,
            details: { previous: previous ?? null, current: rolled.current ?? release, ...rolled.details },
          }
        },
        async (message, ctx) => {
          // A rollout that failed without restoring the old version itself: the core restores it.
          if (!previous) return new StopRun(`${message}; nothing to roll back to (first deploy)`)
          const restored = await target.rollback(ctx, previous)
          return new StopRun(
            `${message}; rolled back to ${previous.version}: ${restored.summary}`,
            restored.status === 'failed' ? 'failed' : 'rolled_back',
          )
        },
      )
      url = await target.baseUrl(contextFor('rollout', parentSignal, []))
      env = (await target.environment?.(contextFor('smoke', parentSignal, []))) ?? { baseUrl: url }

      const rollBackAfter = async (message: string, ctx: RunContext): Promise<StopRun> => {
        if (!previous) return new StopRun(`${message}; nothing to roll back to (first deploy)`)
        const restored = await target.rollback(ctx, previous)
        if (restored.status === 'failed')
          return new StopRun(`${message}; rollback to ${previous.version} failed: ${restored.summary}`)
        return new StopRun(`${message}; rolled back to ${previous.version}`, 'rolled_back')
      }

      let smoked: SmokeOutcome | undefined
      await stage(
        'smoke',
        async (ctx) => {
          const smoke = options.smoke ?? (await import('../tools/smoke-runner.js')).runSmokeSuite
          const outcome = await smoke({
            env: env!,
            expectVersion: release.version,
            signal: ctx.signal,
            log: ctx.log,
          })
          if (!outcome.passed) throw new GateError(`smoke failed: ${outcome.summary}`, outcome.details)
          smoked = outcome
          return { value: undefined, summary: outcome.summary, details: outcome.details }
        },
        rollBackAfter,
      )

      let loaded: LoadOutcome | null = null
      if (options.skipLoad) skip('load', 'skipped (--skip-load)')
      else if (loadIsOff()) skip('load', loadOffReason)
      else
        await stage(
          'load',
          async (ctx) => {
            const outcome = await tools.load(url!, ctx, env)
            loaded = outcome
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
              value: undefined,
              summary: `${outcome.runner}: ${Object.keys(outcome.thresholds).length} thresholds passed`,
              details: { ...outcome },
            }
          },
          rollBackAfter,
        )
      if (target.recordRelease && smoked) {
        try {
          const where = await target.recordRelease(
            { runId, artifact: release, smoke: smoked, load: loaded },
            contextFor('load', parentSignal, []),
          )
          if (where)
            emit({ type: 'stage-log', stage: 'load', level: 'info', line: `release recorded at ${where}` })
        } catch (error) {
          throw new StopRun(
            scrub(`deployed, but recording the passed release failed: ${errorMessage(error)}`),
          )
        }
      }
    }
  } catch (error) {
    if (error instanceof StopRun) {
      status = error.status
      // A target's own summary (a rollout that rolled itself back) carries log lines: scrub it here too.
      reason = scrub(error.reason)
    } else {
      status = 'failed'
      reason = scrub(errorMessage(error))
    }
  } finally {
    await lock?.release().catch(() => undefined)
  }

  for (const name of STAGES) {
    if (name !== 'report' && !stages.some((s) => s.name === name)) skip(name, 'not run')
  }
  const reportStart = Date.now()
  const report: Report = {
    runId,
    target: target.name,
    stack: target.stack,
    status,
    startedAt,
    finishedAt: startedAt,
    artifact: artifact ? { ref: artifact.ref, digest: artifact.digest, version: artifact.version } : null,
    url,
    stages,
    ...(reason ? { reason } : {}),
    ...(dryRun ? { dryRun } : {}),
  }
  const reportEntry: StageReport = {
    name: 'report',
    status: 'succeeded',
    startedAt: new Date(reportStart).toISOString(),
    durationMs: 0,
    summary: `${join(reportsDir, `${runId}.json`)}`,
    details: {},
  }
  emit({ type: 'stage-start', stage: 'report', startedAt: reportEntry.startedAt })
  stages.push(reportEntry)
  report.finishedAt = new Date().toISOString()
  reportEntry.durationMs = Date.now() - reportStart
  const reportPath = writeReport(report, reportsDir)
  appendStepSummary(report, options.stepSummaryPath)
  emit({ type: 'stage-end', stage: reportEntry })
  emit({ type: 'run-end', report, reportPath })
  return report
}

function scrubDetails(
  details: Record<string, unknown>,
  scrub: (text: string) => string,
  tail: string[],
): Record<string, unknown> {
  const withLog = tail.length > 0 ? { ...details, log: [...tail] } : details
  return JSON.parse(scrub(JSON.stringify(withLog))) as Record<string, unknown>
}
