import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { createTarget, createTools, pipelineDirOf, REPO_ROOT } from '../cli/create-target.js'
import { newRunId, runPipeline } from '../core/pipeline.js'
import { createScrubber } from '../core/scrub.js'
import type { RunContext } from '../core/types.js'
import { readState } from '../local/environment-state.js'
import { loadOrCreateSecrets, localDatabaseUrl } from '../local/local-secrets.js'
import { probe } from '../local/process-control.js'
import type { LocalTarget } from '../local/target.js'
import { type Accounting, account, graphRequests } from './accounting.js'
import { FAULTS, type Fault } from './faults.js'
import {
  assertLoopback,
  DRILL_RECIPIENTS,
  drillRecipient,
  type LoadGenerator,
  type RequestKind,
  startLoad,
  summarize,
} from './load.js'

// `npm run drill`: fault drills on the local target under steady load through the entry URL. Plain
// TypeScript so that the CLI and the Dagger module run the same thing.

export interface FaultReport {
  name: string
  description: string
  startedAt: string
  durationMs: number
  recovered: boolean
  notes: string
  sent: number
  failed: number
  failures: Record<string, number>
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** The slowest answered request of each kind (read, send, inbound). */
  maxMsByKind: Partial<Record<RequestKind, number>>
}

export interface DrillReport {
  runId: string
  kind: 'drill'
  target: 'local'
  url: string
  status: 'passed' | 'failed'
  startedAt: string
  finishedAt: string
  ratePerSecond: number
  faults: FaultReport[]
  totals: { sent: number; failed: number }
  accounting: Accounting
  /** Why the drill did not pass, in words. */
  problems: string[]
}

export interface DrillOptions {
  repoRoot?: string
  pipelineDir?: string
  /** Steady load through the entry URL (default 30 req/s). */
  ratePerSecond?: number
  faults?: Fault[]
  log?: (line: string) => void
  signal?: AbortSignal
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** The whole drill stays under 5 minutes: the final wait for late sends gets what is left of this. */
const DRILL_BUDGET_MS = 290_000
const SETTLE_MS = 3_000

export async function runDrill(options: DrillOptions = {}): Promise<DrillReport> {
  const began = Date.now()
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const repoRoot = options.repoRoot ?? REPO_ROOT
  const pipelineDir = options.pipelineDir ?? pipelineDirOf({ repoRoot })
  const reportsDir = join(pipelineDir, 'reports')
  const rate = options.ratePerSecond ?? 30
  const runId = `drill-${newRunId()}`
  const target = (await createTarget({ target: 'local', repoRoot, pipelineDir })) as LocalTarget
  const ctx: RunContext = {
    runId,
    target: 'local',
    stack: target.stack,
    dryRun: false,
    signal: options.signal ?? new AbortController().signal,
    log: { info: log, warn: log },
  }
  const entryUrl = await target.baseUrl(ctx)
  assertLoopback(entryUrl)

  if (!(await target.current(ctx)) || (await probe(`${entryUrl}/health`)) !== 200) {
    log('the local target is not up: deploying it first')
    const deployed = await runPipeline({
      target,
      tools: await createTools({ target: 'local', repoRoot, pipelineDir }),
      skipLoad: true,
      reportsDir,
      ...(options.signal ? { signal: options.signal } : {}),
    })
    if (deployed.status !== 'succeeded')
      throw new Error(`deploy before the drill ${deployed.status}: ${deployed.reason}`)
  }
  const env = await target.environment!(ctx)
  if (!env.apiKey || !env.appSecret || !env.phoneNumberId || !env.fakeGraphUrl)
    throw new Error(
      'env.json lacks the demo API key, app secret, phone number or fake Graph URL: deploy again',
    )
  const fakeGraphUrl = env.fakeGraphUrl
  await openWindows(fakeGraphUrl, entryUrl, env.apiKey, env.phoneNumberId)

  const load = startLoad(
    { baseUrl: entryUrl, apiKey: env.apiKey, appSecret: env.appSecret, phoneNumberId: env.phoneNumberId },
    { ratePerSecond: rate },
  )
  const faults: FaultReport[] = []
  const startedAt = new Date(began).toISOString()
  try {
    const baselineStart = Date.now()
    await sleep(5_000)
    faults.push({
      name: 'baseline',
      description: 'no fault',
      startedAt: new Date(baselineStart).toISOString(),
      durationMs: Date.now() - baselineStart,
      recovered: true,
      notes: '',
      ...summarize(load.samples, baselineStart, Date.now()),
    })
    for (const fault of options.faults ?? FAULTS) {
      options.signal?.throwIfAborted()
      log(`fault: ${fault.description}`)
      const from = Date.now()
      const outcome = await fault
        .run({ target, repoRoot, entryUrl, fakeGraphUrl, load, reportsDir, log })
        .catch((error: Error) => ({ recovered: false, notes: `the fault itself failed: ${error.message}` }))
      await sleep(SETTLE_MS)
      const to = Date.now()
      const figures = summarize(load.samples, from, to)
      log(
        `  ${fault.name}: ${figures.sent} requests, ${figures.failed} failed, p99 ${figures.p99Ms} ms; ${outcome.notes}`,
      )
      faults.push({
        name: fault.name,
        description: fault.description,
        startedAt: new Date(from).toISOString(),
        durationMs: to - from,
        ...outcome,
        ...figures,
      })
    }
  } finally {
    await load.stop()
  }

  const accounting = await settleAndAccount(target, load, fakeGraphUrl, began + DRILL_BUDGET_MS, log)
  const totals = summarize(load.samples, 0, Number.MAX_SAFE_INTEGER)
  const problems = [
    ...faults.filter((f) => f.failed > 0).map((f) => `${f.name}: ${f.failed} failed requests`),
    ...faults.filter((f) => !f.recovered).map((f) => `${f.name}: not recovered (${f.notes})`),
    ...(accounting.lost ? [`${accounting.lost} acknowledged but lost`] : []),
    ...(accounting.duplicates ? [`${accounting.duplicates} duplicates`] : []),
    ...(accounting.doubleSends ? [`${accounting.doubleSends} double sends`] : []),
  ]
  const scrub = createScrubber(target.secretValues?.() ?? [])
  const report: DrillReport = JSON.parse(
    scrub(
      JSON.stringify({
        runId,
        kind: 'drill',
        target: 'local',
        url: entryUrl,
        status: problems.length === 0 ? 'passed' : 'failed',
        startedAt,
        finishedAt: new Date().toISOString(),
        ratePerSecond: rate,
        faults,
        totals: { sent: totals.sent, failed: totals.failed },
        accounting,
        problems,
      } satisfies DrillReport),
    ),
  )
  writeDrillReport(report, reportsDir)
  return report
}

/** Free-form sends need the recipient's 24-hour window open: each drill recipient writes in first. */
async function openWindows(fakeGraphUrl: string, entryUrl: string, apiKey: string, phoneNumberId: string) {
  for (let i = 0; i < DRILL_RECIPIENTS; i++) {
    const response = await fetch(`${fakeGraphUrl.replace(/\/+$/, '')}/__fake/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phoneNumberId, from: drillRecipient(i), text: 'drill window' }),
    })
    if (!response.ok) throw new Error(`fake Graph API /__fake/inbound answered ${response.status}`)
    await response.body?.cancel()
  }
  for (let attempt = 0; attempt < 60; attempt++) {
    const response = await fetch(`${entryUrl}/api/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({
        phoneNumberId,
        to: drillRecipient(DRILL_RECIPIENTS - 1),
        type: 'text',
        text: { body: 'drill window probe' },
      }),
    })
    await response.body?.cancel()
    if (response.status === 202) return
    if (response.status !== 422) throw new Error(`window probe send answered ${response.status}`)
    await sleep(500)
  }
  throw new Error('the drill recipients’ 24-hour windows did not open within 30 s')
}

/** Waits (bounded) until every acknowledged send reached Meta and every inbound webhook was processed. */
async function settleAndAccount(
  target: LocalTarget,
  load: LoadGenerator,
  fakeGraphUrl: string,
  deadline: number,
  log: (line: string) => void,
): Promise<Accounting> {
  const state = readState(target.layout.processes)
  const db = new pg.Client({
    connectionString: localDatabaseUrl(
      target.layout,
      loadOrCreateSecrets(target.layout.secrets),
      state.postgresPort ?? 5432,
      'whatsapp',
    ),
  })
  await db.connect()
  try {
    for (;;) {
      const result = await account(db, load.ledger, await graphRequests(fakeGraphUrl))
      const settled = result.notYetSent === 0 && result.inboundPending === 0
      if (settled || Date.now() > deadline) {
        if (!settled)
          log(
            `drill time is up with ${result.notYetSent} sends not yet at Meta and ${result.inboundPending} inbound not yet processed`,
          )
        return result
      }
      await sleep(1_000)
    }
  } finally {
    await db.end()
  }
}

export function renderDrillMarkdown(report: DrillReport): string {
  const a = report.accounting
  const rows = report.faults.map(
    (f) =>
      `| ${f.name} | ${f.description} | ${f.sent} | ${f.failed} | ${f.p50Ms} / ${f.p99Ms} / ${f.maxMs} | ${f.maxMsByKind.read ?? '–'} / ${f.maxMsByKind.send ?? '–'} / ${f.maxMsByKind.inbound ?? '–'} | ${f.recovered ? 'yes' : 'no'} | ${f.notes.replaceAll('|', '\\|')} |`,
  )
  return [
    `# Fault drill ${report.runId}: ${report.status === 'passed' ? '✅ passed' : '❌ failed'}`,
    '',
    `Local target ${report.url}, ${report.ratePerSecond} req/s steady load, ${report.startedAt} → ${report.finishedAt}.`,
    '',
    '| fault | what | requests | failed | p50 / p99 / max ms | slowest read / send / inbound ms | recovered | notes |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Totals: ${report.totals.sent} requests, ${report.totals.failed} failed. Acknowledged: ${a.acknowledgedSends} sends, ${a.acknowledgedInbound} inbound webhooks.`,
    `Acknowledged but lost: **${a.lost}**; duplicates: **${a.duplicates}**; double sends: **${a.doubleSends}**` +
      ` (not yet at Meta when the drill ended: ${a.notYetSent}; inbound not yet processed: ${a.inboundPending}).`,
    ...(report.problems.length ? ['', '## Problems', '', ...report.problems.map((p) => `- ${p}`)] : []),
    '',
  ].join('\n')
}

/** `drill-<runId>.json`, `drill-<runId>.md` and `drill-latest.json` next to the deploy reports. */
export function writeDrillReport(report: DrillReport, reportsDir: string): string {
  mkdirSync(reportsDir, { recursive: true })
  const body = `${JSON.stringify(report, null, 2)}\n`
  const runPath = join(reportsDir, `${report.runId}.json`)
  for (const path of [runPath, join(reportsDir, 'drill-latest.json')]) {
    const temp = `${path}.${process.pid}.tmp`
    writeFileSync(temp, body)
    renameSync(temp, path)
  }
  writeFileSync(join(reportsDir, `${report.runId}.md`), renderDrillMarkdown(report))
  return runPath
}
