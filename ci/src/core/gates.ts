import type { OpsResult } from './types.js'

// The safety gates read the final JSON line of the service's ops commands (api/src/ops). Those lines are
// parsed here, in one place, so a change of the ops output is one edit and one failing test.

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

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined
}

/** The id of the backup an ops `backup` command made. */
export function backupIdOf(result: OpsResult): string {
  const r = result.result ?? {}
  const id = text(r.id) ?? text(r.backupId) ?? text(record(r.backup)?.id) ?? text(record(r.manifest)?.id)
  if (!id) throw new GateError('backup command printed no backup id in its final JSON line')
  return id
}

/** Whether `verify-backup` confirmed the backup (exit 0 and no negative verdict). */
export function backupVerified(result: OpsResult): boolean {
  if (result.exitCode !== 0) return false
  const r = result.result ?? {}
  if (r.ok === false || r.verified === false || r.status === 'failed') return false
  return true
}

export interface SafetyFinding {
  migration: string
  statement: string
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

function findingsOf(migration: string, raw: unknown): SafetyFinding[] {
  if (!Array.isArray(raw)) return []
  return raw.flatMap((entry) => {
    const f = record(entry)
    if (!f) return typeof entry === 'string' ? [{ migration, statement: entry, reason: 'destructive' }] : []
    return [
      {
        migration: text(f.migration) ?? migration,
        statement: text(f.statement) ?? text(f.sql) ?? '',
        reason: text(f.reason) ?? text(f.rule) ?? text(f.kind) ?? text(f.message) ?? 'destructive',
      },
    ]
  })
}

function isDestructive(m: Record<string, unknown>, findings: SafetyFinding[]): boolean {
  if (m.destructive === true) return true
  const verdict = text(m.verdict) ?? text(m.safety) ?? text(record(m.safety)?.verdict)
  if (verdict) return verdict.toLowerCase() === 'destructive'
  return findings.length > 0 && m.destructive !== false
}

/** Reads `migration-status` output: applied names and, per pending migration, its safety verdict and findings. */
export function parseMigrationStatus(result: OpsResult): MigrationPlan {
  if (result.exitCode !== 0 || !result.result) {
    throw new GateError(
      `migration-status failed (exit ${result.exitCode}): ${result.output.at(-1) ?? 'no output'}`.trim(),
    )
  }
  const r = result.result
  const names = (raw: unknown): string[] =>
    Array.isArray(raw)
      ? raw.flatMap((a) => {
          const name = typeof a === 'string' ? a : (text(record(a)?.name) ?? text(record(a)?.migration))
          return name ? [name] : []
        })
      : []
  const topFindings = findingsOf('', r.findings)
  const pending = (Array.isArray(r.pending) ? r.pending : []).flatMap((entry): PendingMigration[] => {
    if (typeof entry === 'string') {
      const findings = topFindings.filter((f) => f.migration === entry)
      return [{ name: entry, destructive: findings.length > 0, findings }]
    }
    const m = record(entry)
    const name = m && (text(m.name) ?? text(m.migration))
    if (!m || !name) return []
    const safety = record(m.safety)
    const findings = [
      ...findingsOf(name, m.findings ?? safety?.findings ?? m.issues),
      ...topFindings.filter((f) => f.migration === name),
    ]
    return [{ name, destructive: isDestructive(m, findings), findings }]
  })
  return { applied: names(r.applied), pending }
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
