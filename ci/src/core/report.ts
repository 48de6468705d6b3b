import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { StageName } from './types.js'

export type StageStatus = 'succeeded' | 'failed' | 'skipped'
export type RunStatus = 'succeeded' | 'failed' | 'rolled_back'

/** One stage's entry in the report (shape fixed by docs/design.md). */
export interface StageReport {
  name: StageName
  status: StageStatus
  startedAt: string
  durationMs: number
  summary: string
  details: Record<string, unknown>
}

/** The pipeline report: `.pipeline/reports/<runId>.json` and `latest.json` (shape fixed by docs/design.md). */
export interface Report {
  runId: string
  target: 'local' | 'aws'
  stack: string
  status: RunStatus
  startedAt: string
  finishedAt: string
  artifact: { ref: string; digest: string; version?: string } | null
  url: string | null
  stages: StageReport[]
  /** One line saying why the run did not succeed; absent on success. */
  reason?: string
  dryRun?: boolean
}

/** Writes `<runId>.json` and `latest.json` (each atomically: temp file then rename) and returns the run's path. */
export function writeReport(report: Report, reportsDir: string): string {
  mkdirSync(reportsDir, { recursive: true })
  const body = `${JSON.stringify(report, null, 2)}\n`
  const runPath = join(reportsDir, `${report.runId}.json`)
  for (const path of [runPath, join(reportsDir, 'latest.json')]) {
    const temp = `${path}.${process.pid}.tmp`
    writeFileSync(temp, body)
    renameSync(temp, path)
  }
  writeFileSync(join(reportsDir, `${report.runId}.md`), renderMarkdown(report))
  return runPath
}

const STATUS_MARK: Record<StageStatus | RunStatus, string> = {
  succeeded: '✅',
  failed: '❌',
  skipped: '⏭️',
  rolled_back: '↩️',
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ')
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`
}

/** The Markdown rendering of a report (job summaries, `<runId>.md`). */
export function renderMarkdown(report: Report): string {
  const total = Date.parse(report.finishedAt) - Date.parse(report.startedAt)
  const lines = [
    `## ${STATUS_MARK[report.status]} Deploy ${report.target}/${report.stack}: ${report.status}${report.dryRun ? ' (dry run)' : ''}`,
    '',
    `- Run: \`${report.runId}\` (${formatDuration(total)})`,
    `- Artifact: ${report.artifact ? `\`${report.artifact.ref}@${report.artifact.digest}\`${report.artifact.version ? ` (version ${report.artifact.version})` : ''}` : 'none'}`,
    `- URL: ${report.url ?? 'none'}`,
  ]
  if (report.reason) lines.push(`- Reason: ${cell(report.reason)}`)
  lines.push('', '| Stage | Status | Duration | Summary |', '|---|---|---|---|')
  for (const stage of report.stages) {
    lines.push(
      `| ${stage.name} | ${STATUS_MARK[stage.status]} ${stage.status} | ${formatDuration(stage.durationMs)} | ${cell(stage.summary)} |`,
    )
  }
  return `${lines.join('\n')}\n`
}

/** Appends the Markdown report to GitHub's job summary file when the variable is set. */
export function appendStepSummary(report: Report, summaryPath = process.env.GITHUB_STEP_SUMMARY): void {
  if (!summaryPath) return
  appendFileSync(summaryPath, `${renderMarkdown(report)}\n`)
}
