import type { Clock } from './clock.js'
import { GateError } from './gates.js'
import type { Report, RunStatus, StageReport } from './report.js'
import { createScrubber } from './scrub.js'
import { type RunContext, STAGES, type StageLog, type StageName, type Target } from './types.js'

export type PipelineEvent =
  | { type: 'run-start'; runId: string; target: string; stack: string; dryRun: boolean }
  | { type: 'stage-start'; stage: StageName; startedAt: string }
  | { type: 'stage-log'; stage: StageName | 'preflight'; level: 'info' | 'warn'; line: string }
  | { type: 'stage-end'; stage: StageReport }
  | { type: 'run-end'; report: Report; reportPath: string }

export const DEFAULT_TIMEOUTS_MS: Record<StageName, number> = {
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

/** Ends the run: thrown once a stage recorded its failure (or before any stage, e.g. at preflight). */
export class StopRun extends Error {
  constructor(
    readonly reason: string,
    readonly status: RunStatus = 'failed',
  ) {
    super(reason)
  }
}

export interface StageOutcome<T> {
  value: T
  summary: string
  details?: Record<string, unknown>
  status?: 'succeeded' | 'skipped'
}

/** What a failed stage does before the run stops (a rollback); returns how the run ends. */
export type OnStageFailure = (message: string, ctx: RunContext) => Promise<StopRun>

export function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.split('\n')[0]!.trim() || 'unknown error'
}

export interface StageRunnerOptions {
  runId: string
  target: Target
  dryRun: boolean
  clock: Clock
  /** Ctrl-C from the caller. */
  signal: AbortSignal
  timeoutsMs?: Partial<Record<StageName, number>>
  emit: (event: PipelineEvent) => void
}

/**
 * Runs the stages one at a time: each with its deadline and the caller's signal, its log scrubbed of
 * secrets and kept as a tail, its entry recorded and announced. A stage that fails is recorded and stops
 * the run with a StopRun.
 */
export class StageRunner {
  readonly stages: StageReport[] = []

  constructor(private readonly options: StageRunnerOptions) {}

  /** Rebuilt per line: a target may learn secrets during the run (e.g. AWS reads the admin token for smoke). */
  scrub(text: string): string {
    return createScrubber(this.options.target.secretValues?.() ?? [])(text)
  }

  private iso(ms: number): string {
    return new Date(ms).toISOString()
  }

  /** The context a stage's work runs with; its log lines go to `tail` (the report) and to the events. */
  context(stage: StageName | 'preflight', signal = this.options.signal, tail: string[] = []): RunContext {
    const { runId, target, dryRun, emit } = this.options
    const write = (level: 'info' | 'warn') => (line: string) => {
      const clean = this.scrub(line)
      tail.push(level === 'warn' ? `warn: ${clean}` : clean)
      if (tail.length > LOG_TAIL_LINES) tail.shift()
      emit({ type: 'stage-log', stage, level, line: clean })
    }
    const log: StageLog = { info: write('info'), warn: write('warn') }
    return { runId, target: target.name, stack: target.stack, dryRun, log, signal }
  }

  skip(name: StageName, summary: string): void {
    const entry: StageReport = {
      name,
      status: 'skipped',
      startedAt: this.iso(this.options.clock.now()),
      durationMs: 0,
      summary,
      details: {},
    }
    this.stages.push(entry)
    this.options.emit({ type: 'stage-start', stage: name, startedAt: entry.startedAt })
    this.options.emit({ type: 'stage-end', stage: entry })
  }

  /** Records every stage before `report` that never started as skipped ("not run"). */
  skipNotRun(): void {
    for (const name of STAGES) {
      if (name !== 'report' && !this.stages.some((s) => s.name === name)) this.skip(name, 'not run')
    }
  }

  /** Runs one stage with its timeout; records it; on error records the failure and stops the run. */
  async run<T>(
    name: StageName,
    body: (ctx: RunContext) => Promise<StageOutcome<T>>,
    onFailure?: OnStageFailure,
  ): Promise<T> {
    const { clock, emit } = this.options
    const parentSignal = this.options.signal
    const began = clock.now()
    const startedAt = this.iso(began)
    emit({ type: 'stage-start', stage: name, startedAt })
    const timeoutMs = this.options.timeoutsMs?.[name] ?? DEFAULT_TIMEOUTS_MS[name]
    const timeout = clock.timeout(timeoutMs)
    const signal = AbortSignal.any([parentSignal, timeout])
    const tail: string[] = []
    const ctx = this.context(name, signal, tail)
    const finish = (entry: Pick<StageReport, 'status' | 'summary'>, details: Record<string, unknown>) => {
      const report: StageReport = {
        name,
        startedAt,
        durationMs: clock.now() - began,
        status: entry.status,
        summary: this.scrub(entry.summary),
        details: this.scrubDetails(details, tail),
      }
      this.stages.push(report)
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
      finish({ status: outcome.status ?? 'succeeded', summary: outcome.summary }, outcome.details ?? {})
      return outcome.value
    } catch (error) {
      if (error instanceof StopRun) {
        finish({ status: 'failed', summary: error.reason }, {})
        throw error
      }
      const message = this.scrub(`${name}: ${errorMessage(error)}`)
      const details = error instanceof GateError ? error.details : {}
      let stop = new StopRun(message)
      if (onFailure) {
        try {
          stop = await onFailure(message, this.context(name, parentSignal, tail))
        } catch (failureError) {
          stop = new StopRun(`${message}; rollback failed: ${this.scrub(errorMessage(failureError))}`)
        }
      }
      finish({ status: 'failed', summary: stop.reason }, details)
      throw stop
    }
  }

  /** How the run ends after `error` stopped it; the reason is scrubbed (a target's summary may quote logs). */
  outcomeOf(error: unknown): { status: RunStatus; reason: string } {
    if (error instanceof StopRun) return { status: error.status, reason: this.scrub(error.reason) }
    return { status: 'failed', reason: this.scrub(errorMessage(error)) }
  }

  private scrubDetails(details: Record<string, unknown>, tail: string[]): Record<string, unknown> {
    const withLog = tail.length > 0 ? { ...details, log: [...tail] } : details
    return JSON.parse(this.scrub(JSON.stringify(withLog))) as Record<string, unknown>
  }
}
