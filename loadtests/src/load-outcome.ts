/** The pipeline's verdict of a load run; structurally identical to `LoadOutcome` in ci/src/core/types.ts. */
export interface LoadOutcome {
  runner: 'k6' | 'autocannon'
  passed: boolean
  /** Threshold name -> observed value and verdict. */
  thresholds: Record<string, { value: number; limit: string; ok: boolean }>
  exitCode: number
}

export type ScenarioStatus = 'passed' | 'failed' | 'skipped'

export interface ScenarioOutcome {
  name: string
  status: ScenarioStatus
  /** Why it was skipped or failed, or a one-line summary of what ran. */
  detail: string
  exitCode: number
}

/** What `runLoad` returns: the LoadOutcome plus what a human needs to read the verdict. */
export interface LoadReport extends LoadOutcome {
  scenarios: ScenarioOutcome[]
  /** E.g. why autocannon ran instead of k6. */
  notes: string[]
}

/** k6's exit code when a threshold is breached; autocannon runs report the same code for the same verdict. */
export const THRESHOLDS_BREACHED_EXIT_CODE = 99
/** A run stopped for exceeding its time budget. */
export const TIME_BUDGET_EXCEEDED_EXIT_CODE = 124
