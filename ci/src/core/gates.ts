import { opsOutcome } from './ops-output.js'
import type { OpsResult } from './types.js'

// The safety gates' readings of the ops commands' results (their lines are parsed by ops-output.ts) and
// the destructive-migration gate.

/** Thrown when a gate stops the pipeline. The message is the one-line reason shown to the operator. */
export class GateError extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message)
    this.name = 'GateError'
  }
}

export interface SafetyFinding {
  migration: string
  statement: string
  /** The rule of api/src/ops/migration-safety.ts the statement breaks (`drop-column`, ...). */
  reason: string
}

export interface PendingMigration {
  name: string
  destructive: boolean
  findings: SafetyFinding[]
}

export interface MigrationPlan {
  applied: string[]
  pending: PendingMigration[]
}

/** Reads `migration-status`: applied names and, per pending migration, its safety verdict and findings. */
export function parseMigrationStatus(result: OpsResult): MigrationPlan {
  const status = opsOutcome('migration-status', result)
  if (!status.ok) throw new GateError(status.error)
  return {
    applied: status.report.applied,
    pending: status.report.pending.map((m) => ({
      name: m.migration,
      destructive: m.verdict === 'destructive',
      findings: m.findings.map((f) => ({ migration: f.migration, statement: f.statement, reason: f.rule })),
    })),
  }
}

/** Stops the pipeline when a pending migration is destructive and the operator did not allow it. */
export function checkDestructive(plan: MigrationPlan, allowDestructive: boolean): SafetyFinding[] {
  const destructive = plan.pending.filter((m) => m.destructive)
  const findings = destructive.flatMap((m) =>
    m.findings.length > 0
      ? m.findings
      : [{ migration: m.name, statement: '(see migration)', reason: 'destructive' }],
  )
  if (destructive.length > 0 && !allowDestructive) {
    const first = findings[0]!
    throw new GateError(
      `destructive migration ${destructive.map((m) => m.name).join(', ')} needs --allow-destructive: ${first.reason}: ${first.statement}${findings.length > 1 ? ` (+${findings.length - 1} more)` : ''}`,
      { findings },
    )
  }
  return findings
}
