import type { LoadReport } from './load-outcome.js'

/** Human-readable lines: one per threshold, one per scenario, then the verdict. */
export function formatLoadReport(report: LoadReport): string[] {
  const lines = Object.entries(report.thresholds).map(
    ([name, verdict]) =>
      `${verdict.ok ? 'ok  ' : 'FAIL'} ${name.padEnd(44)} ${String(verdict.value).padStart(10)}  ${verdict.limit}`,
  )
  for (const scenario of report.scenarios)
    lines.push(`${scenario.status.toUpperCase()} ${scenario.name}: ${scenario.detail}`)
  for (const note of report.notes) lines.push(`note: ${note}`)
  lines.push(
    `load ${report.passed ? 'passed' : 'FAILED'} (runner ${report.runner}, exit code ${report.exitCode})`,
  )
  return lines
}
