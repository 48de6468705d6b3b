import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Static, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { STAGES } from './types.js'

// The report's shape is a value (a JSON Schema) as well as a type, so that every entry that drives the
// pipeline (the CLI, the Dagger module) can check what it hands on against the one definition.

const IsoTime = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$' })

export const StageStatusSchema = Type.Union([
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('skipped'),
])
export type StageStatus = Static<typeof StageStatusSchema>

export const RunStatusSchema = Type.Union([
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('rolled_back'),
])
export type RunStatus = Static<typeof RunStatusSchema>

/** One stage's entry in the report (shape fixed by docs/design.md). */
export const StageReportSchema = Type.Object(
  {
    name: Type.Union(STAGES.map((name) => Type.Literal(name))),
    status: StageStatusSchema,
    startedAt: IsoTime,
    durationMs: Type.Number({ minimum: 0 }),
    summary: Type.String(),
    /** `log`: the stage's last log lines; the rest is the stage's own. */
    details: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
)
export type StageReport = Static<typeof StageReportSchema>

/** The pipeline report: `.pipeline/reports/<runId>.json` and `latest.json` (shape fixed by docs/design.md). */
export const ReportSchema = Type.Object(
  {
    runId: Type.String({ minLength: 1 }),
    target: Type.String({ minLength: 1 }),
    stack: Type.String(),
    status: RunStatusSchema,
    startedAt: IsoTime,
    finishedAt: IsoTime,
    artifact: Type.Union([
      Type.Object(
        { ref: Type.String(), digest: Type.String(), version: Type.Optional(Type.String()) },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
    url: Type.Union([Type.String(), Type.Null()]),
    stages: Type.Array(StageReportSchema),
    /** One line saying why the run did not succeed; absent on success. */
    reason: Type.Optional(Type.String()),
    dryRun: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)
export type Report = Static<typeof ReportSchema>

/**
 * What makes a value not a report of this pipeline: schema violations, and stages missing, repeated or out
 * of the order of STAGES. Empty for a valid report.
 */
export function reportProblems(value: unknown): string[] {
  const problems = [...Value.Errors(ReportSchema, value)].map(
    (error) => `${error.path || '/'}: ${error.message}`,
  )
  if (problems.length > 0) return problems
  const names = (value as Report).stages.map((stage) => stage.name)
  if (names.join(',') !== STAGES.join(','))
    problems.push(`stages are ${names.join(', ')}; expected ${STAGES.join(', ')}`)
  return problems
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
