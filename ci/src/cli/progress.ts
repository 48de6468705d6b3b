import pc from 'picocolors'
import type { PipelineEvent } from '../core/pipeline.js'
import { formatDuration, type Report, type StageStatus } from '../core/report.js'

type Colors = ReturnType<typeof pc.createColors>

/** Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function colorsFor(stream: NodeJS.WriteStream, env = process.env): Colors {
  const enabled = Boolean(stream.isTTY) && !env.NO_COLOR && env.TERM !== 'dumb'
  return pc.createColors(enabled)
}

const MARKS: Record<StageStatus, string> = { succeeded: '✓', failed: '✗', skipped: '-' }

/**
 * Live progress of a pipeline run: one line per stage start and end with its elapsed time, the stage's log
 * lines indented under it, and on a terminal a ticking "running" line so a long stage visibly progresses.
 */
export function createProgress(stream: NodeJS.WriteStream = process.stderr) {
  const c = colorsFor(stream)
  const live = Boolean(stream.isTTY)
  let ticker: NodeJS.Timeout | undefined
  let running: { stage: string; since: number } | undefined

  const clearLine = () => {
    if (live && running) stream.write('\r\x1b[2K')
  }
  const drawRunning = () => {
    if (!live || !running) return
    const elapsed = formatDuration(Date.now() - running.since)
    stream.write(`\r\x1b[2K${c.cyan('…')} ${running.stage} ${c.dim(elapsed)}`)
  }
  const stopTicker = () => {
    if (ticker) clearInterval(ticker)
    ticker = undefined
  }
  const mark = (status: StageStatus) =>
    status === 'succeeded'
      ? c.green(MARKS[status])
      : status === 'failed'
        ? c.red(MARKS[status])
        : c.dim(MARKS[status])

  return {
    onEvent(event: PipelineEvent): void {
      switch (event.type) {
        case 'run-start':
          stream.write(
            `${c.bold(`${event.dryRun ? 'Planning' : 'Deploying'} ${event.target}/${event.stack}`)} ${c.dim(`run ${event.runId}`)}\n`,
          )
          break
        case 'stage-start':
          running = { stage: event.stage, since: Date.parse(event.startedAt) }
          if (live) {
            drawRunning()
            ticker = setInterval(drawRunning, 250)
            ticker.unref()
          } else stream.write(`→ ${event.stage}\n`)
          break
        case 'stage-log':
          clearLine()
          stream.write(
            `  ${c.dim('│')} ${event.level === 'warn' ? c.yellow(event.line) : c.dim(event.line)}\n`,
          )
          drawRunning()
          break
        case 'stage-end': {
          stopTicker()
          clearLine()
          running = undefined
          const s = event.stage
          const time = s.status === 'skipped' ? '' : c.dim(formatDuration(s.durationMs).padStart(8))
          stream.write(
            `${mark(s.status)} ${s.name.padEnd(10)}${time}  ${s.status === 'failed' ? c.red(s.summary) : s.summary}\n`,
          )
          break
        }
        case 'run-end':
          stopTicker()
          stream.write(`\n${renderSummaryTable(event.report, c)}\nreport: ${event.reportPath}\n`)
          break
      }
    },
    stop: stopTicker,
  }
}

/** The final table: one row per stage, then the run's verdict. */
export function renderSummaryTable(report: Report, c: Colors = pc.createColors(false)): string {
  const width = Math.max(...report.stages.map((s) => s.name.length))
  const rows = report.stages.map(
    (s) =>
      `  ${s.name.padEnd(width)}  ${s.status.padEnd(9)}  ${(s.status === 'skipped' ? '' : formatDuration(s.durationMs)).padStart(9)}  ${s.summary}`,
  )
  const total = formatDuration(Date.parse(report.finishedAt) - Date.parse(report.startedAt))
  const verdict =
    report.status === 'succeeded'
      ? c.green(c.bold(`${report.dryRun ? 'PLAN OK' : 'DEPLOYED'}`))
      : report.status === 'rolled_back'
        ? c.yellow(c.bold('ROLLED BACK'))
        : c.red(c.bold('FAILED'))
  const artifact = report.artifact ? `${report.artifact.ref}@${report.artifact.digest}` : 'no artifact'
  return [
    `  ${'stage'.padEnd(width)}  ${'status'.padEnd(9)}  ${'time'.padStart(9)}  summary`,
    ...rows,
    '',
    `${verdict} ${report.target}/${report.stack} in ${total}: ${artifact}${report.artifact?.version ? ` (${report.artifact.version})` : ''}${report.url ? ` at ${report.url}` : ''}`,
    ...(report.reason ? [`reason: ${report.reason}`] : []),
  ].join('\n')
}
