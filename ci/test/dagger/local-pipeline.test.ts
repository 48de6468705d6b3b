// The module's local path is the pipeline core: `deploy --env=local`, `endToEnd`, `drill` and `up` run the
// host CLI in one container. What can be proven without an engine: the command lines are the CLI's (and
// the CLI parses them), the container has what the local target asks for, the report the module hands on
// is checked by the core's own validator (here run on a report the core really wrote), and the shell the
// container runs behaves as intended.
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  aptInstallScript,
  DRILL_FILES,
  drillCommand,
  drillScript,
  LATEST_REPORT,
  LOCAL_ENTRY_PORT,
  LOCAL_TARGET_PACKAGES,
  localDeployCommand,
  localPipelineEnv,
  parseReportCheck,
  reportCheckCommand,
  reportCheckError,
  TEST_PACKAGES,
  UP_INTERNAL_ENTRY_PORT,
  upCommand,
} from '../../dagger/src/lib/local-pipeline.js'
import { CLI, REPORTS_DIR } from '../../dagger/src/lib/pipeline-cli.js'
import { runPipeline } from '../../src/core/pipeline.js'
import { reportProblems } from '../../src/core/report.js'
import { STAGES } from '../../src/core/types.js'
import { ManualClock } from '../core/manual-clock.js'
import { scripted } from '../core/scripted.js'

const REPO = resolve(import.meta.dirname, '../../..')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

describe('the local target container', () => {
  it('installs every Debian package the local target and its ops commands name when one is missing', () => {
    const named = new Set<string>()
    const roots = ['api/src', 'ci/src', 'packages/local-services/src'].map((dir) => join(REPO, dir))
    for (const file of roots.flatMap(sourceFiles)) {
      const text = readFileSync(file, 'utf8')
      const constants = Object.fromEntries(
        [...text.matchAll(/const (\w+) = '([a-z0-9.+-]+)'/g)].map(([, name, value]) => [name, value]),
      )
      for (const [, argument] of text.matchAll(
        /(?:requireBinary|MissingBinaryError)\('[^']*',\s*([A-Za-z_]\w*|'[^']*')\)/g,
      )) {
        const literal = /^'([^']+)'$/.exec(argument!)?.[1] ?? constants[argument!]
        expect(literal, `${relative(REPO, file)}: ${argument}`).toBeDefined()
        named.add(literal!)
      }
    }
    expect([...named].sort()).toEqual(['openssl', 'postgresql-15', 'postgresql-client-15', 'redis-server'])
    expect(LOCAL_TARGET_PACKAGES).toEqual(expect.arrayContaining([...named]))
    // The suite's harness starts PostgreSQL and Redis of its own: the same server packages.
    expect(LOCAL_TARGET_PACKAGES).toEqual(expect.arrayContaining([...TEST_PACKAGES]))
  })

  it('installs them in one apt layer and refuses what is not a package name', () => {
    expect(aptInstallScript(['postgresql-15', 'socat'])).toBe(
      'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 socat >/dev/null && rm -rf /var/lib/apt/lists/*',
    )
    expect(() => aptInstallScript(['redis-server; curl evil'])).toThrow(/not a Debian package name/)
  })

  it('gives the CLI its entry port and a bounded load stage, and no secret', () => {
    expect(localPipelineEnv()).toEqual({ LOCAL_ENTRY_PORT: '8080', LOAD_MAX_DURATION_S: '60', NO_COLOR: '1' })
    expect(localPipelineEnv({ loadMaxDurationSeconds: 20 }).LOAD_MAX_DURATION_S).toBe('20')
    expect(() => localPipelineEnv({ loadMaxDurationSeconds: 0 })).toThrow(/positive integer/)
    // The variables the CLI reads (ci/src/cli/create-target.ts, ci/src/tools).
    const cli = sourceFiles(join(REPO, 'ci/src'))
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n')
    for (const name of Object.keys(localPipelineEnv()).filter((n) => n !== 'NO_COLOR'))
      expect(cli, name).toContain(`'${name}'`)
  })
})

describe('the local command lines are the CLI the developer runs', () => {
  it('deploys with `npx tsx ci/src/cli/main.ts deploy --target local`, the flags passed through', () => {
    expect(localDeployCommand()).toEqual([...CLI, 'deploy', '--target', 'local', '--stack', 'local'])
    expect(localDeployCommand({ dryRun: true, allowDestructive: true, skipLoad: true })).toEqual([
      ...CLI,
      'deploy',
      '--target',
      'local',
      '--stack',
      'local',
      '--dry-run',
      '--allow-destructive',
      '--skip-load',
    ])
    expect(drillCommand()).toEqual([...CLI, 'drill'])
    expect(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).scripts).toMatchObject({
      deploy: 'tsx ci/src/cli/main.ts deploy',
      drill: 'tsx ci/src/cli/main.ts drill',
    })
  })

  it('are accepted by the CLI (its --help exits 0 after parsing the same flags)', () => {
    for (const argv of [
      localDeployCommand({ dryRun: true, allowDestructive: true, skipLoad: true }),
      drillCommand(),
    ]) {
      const [command, ...args] = argv
      const ran = spawnSync(command!, [...args, '--help'], { cwd: REPO, encoding: 'utf8', timeout: 60_000 })
      expect(ran.status, `${argv.join(' ')}: ${ran.stderr}`).toBe(0)
      expect(ran.stdout).toContain(`${argv[CLI.length]}:`)
    }
  })

  it('serves the entry URL for `dagger up` only after the deploy succeeded, from the proxy on loopback', () => {
    const [sh, flag, script] = upCommand()
    expect([sh, flag]).toEqual(['sh', '-c'])
    expect(script).toBe(
      `env LOCAL_ENTRY_PORT=${UP_INTERNAL_ENTRY_PORT} ${localDeployCommand({ skipLoad: true }).join(' ')} && exec socat TCP-LISTEN:${LOCAL_ENTRY_PORT},fork,reuseaddr TCP:127.0.0.1:${UP_INTERNAL_ENTRY_PORT}`,
    )
  })
})

describe('the report the module hands on is checked by the core', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dagger-report-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  /** The check program as the container runs it, at a repository root holding `reports/latest.json`. */
  function check(reportPath: string) {
    const [command, ...args] = reportCheckCommand(reportPath)
    const ran = spawnSync(command!, args, { cwd: REPO, encoding: 'utf8', timeout: 60_000 })
    expect(ran.status, ran.stderr).toBe(0)
    return parseReportCheck(ran.stdout)
  }

  it('accepts the report the core writes, with the core stages in order', async () => {
    const s = scripted({ current: undefined })
    const report = await runPipeline({
      target: s.target,
      tools: s.tools,
      reportsDir: join(dir, 'reports'),
      stepSummaryPath: join(dir, 'summary.md'),
      clock: new ManualClock(),
    })
    expect(reportProblems(report)).toEqual([])
    const verdict = check(join(dir, 'reports', 'latest.json'))
    expect(verdict).toEqual({ found: true, problems: [], status: report.status, stages: [...STAGES] })
    expect(reportCheckError(0, verdict)).toBeUndefined()
  })

  it('refuses a report whose stages are not the core stages (the sequence the module used to run)', () => {
    const path = join(dir, 'latest.json')
    const now = new Date().toISOString()
    const stage = (name: string) => ({
      name,
      status: 'succeeded',
      startedAt: now,
      durationMs: 1,
      summary: '',
      details: {},
    })
    writeFileSync(
      path,
      JSON.stringify({
        runId: 'r1',
        target: 'local',
        stack: 'local',
        status: 'succeeded',
        startedAt: now,
        finishedAt: now,
        artifact: null,
        url: null,
        stages: ['migrate', 'smoke', 'load'].map(stage),
      }),
    )
    const verdict = check(path)
    expect(verdict.found).toBe(true)
    expect(verdict.problems).toEqual([`stages are migrate, smoke, load; expected ${STAGES.join(', ')}`])
    expect(reportCheckError(1, verdict)).toMatch(/^the pipeline report is not the core's: stages are/)
  })

  it('tells a failed run without a report (handed on with --allow-failure) from a success without one', () => {
    const verdict = check(join(dir, 'missing.json'))
    expect(verdict).toEqual({ found: false, problems: [], status: null, stages: [] })
    expect(reportCheckError(1, verdict)).toBeUndefined()
    expect(reportCheckError(0, verdict)).toBe(`the pipeline exited 0 but left no ${LATEST_REPORT}`)
    expect(LATEST_REPORT).toBe(`${REPORTS_DIR}/latest.json`)
  })

  it('refuses output that is not the check verdict', () => {
    expect(() => parseReportCheck('npm warn\nnot json')).toThrow(/did not print its JSON line/)
    expect(() => parseReportCheck('{"ok":true}')).toThrow(/printed no verdict/)
  })
})

describe('the drill run', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dagger-drill-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  /** drillScript with a stand-in `npx` that plays the drill CLI: Markdown on stdout, JSON as drill-latest.json. */
  function runScript(exitCode: number, writesJson = true) {
    const bin = join(dir, 'bin')
    mkdirSync(bin)
    writeFileSync(
      join(bin, 'npx'),
      [
        '#!/bin/sh',
        `echo "$*" > '${join(dir, 'argv')}'`,
        'echo "progress" >&2',
        'echo "## Drill: passed"',
        writesJson ? `echo '{"kind":"drill"}' > ${REPORTS_DIR}/drill-latest.json` : ':',
        `exit ${exitCode}`,
      ].join('\n'),
    )
    chmodSync(join(bin, 'npx'), 0o755)
    const work = join(dir, 'repo')
    mkdirSync(work)
    const ran = spawnSync('sh', ['-c', drillScript()], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    })
    const read = (name: string) => readFileSync(join(work, REPORTS_DIR, name), 'utf8')
    return { status: ran.status, read, argv: readFileSync(join(dir, 'argv'), 'utf8').trim() }
  }

  it('keeps the Markdown and the JSON report under fixed names with the exit code, and exits with it', () => {
    const run = runScript(0)
    expect(run.status).toBe(0)
    expect(run.argv).toBe(drillCommand().slice(1).join(' '))
    expect(run.read(DRILL_FILES.markdown)).toBe('## Drill: passed\n')
    expect(JSON.parse(run.read(DRILL_FILES.json))).toEqual({ kind: 'drill' })
    expect(run.read('exit-code')).toBe('0\n')
  })

  it('keeps the reports of a failed drill and fails with its code', () => {
    const run = runScript(1)
    expect(run.status).toBe(1)
    expect(run.read('exit-code')).toBe('1\n')
    expect(JSON.parse(run.read(DRILL_FILES.json))).toEqual({ kind: 'drill' })
  })

  it('still records the exit code when the drill wrote no JSON (it failed before its report)', () => {
    const run = runScript(2, false)
    expect(run.status).toBe(2)
    expect(run.read('exit-code')).toBe('2\n')
    expect(() => run.read(DRILL_FILES.json)).toThrow()
  })
})
