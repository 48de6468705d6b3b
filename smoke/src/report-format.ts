import type { SmokeCheckResult, SmokeReport } from './run-smoke.js'

const MARK = { passed: 'PASS', failed: 'FAIL', skipped: 'SKIP' } as const

/** `PASS health              12 ms  GET /health 200, ...` */
export function formatCheckLine(result: SmokeCheckResult): string {
  return `${MARK[result.status]} ${result.name.padEnd(20)} ${`${result.durationMs} ms`.padStart(8)}  ${result.detail}`
}

export function formatSummaryLine(report: SmokeReport): string {
  return `smoke ${report.passed ? 'passed' : 'FAILED'} against ${report.baseUrl}: ${report.summary} (${report.durationMs} ms)`
}
