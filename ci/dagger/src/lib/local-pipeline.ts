// The local target inside the engine: one container holding what the host CLI's local target needs (Node 22,
// PostgreSQL 15, Redis 7, openssl), where the repository's own CLI runs as a developer runs it. `deploy
// --env=local`, `endToEnd`, `drill` and `up` are therefore the pipeline core itself — its stages, gates,
// rollback decisions, deploy lock and report — not a sequence of the module's own.
//
// Why one container rather than Dagger services for PostgreSQL, Redis and the replicas: the local target
// supervises its processes itself (starts replicas beside the old ones, switches the entry proxy, restarts a
// crashed replica, stops PostgreSQL for a drill) and reaches them on loopback; as services they would be
// outside its control, and the core would need a second, Dagger-shaped target to drive them.
import { CLI, type DeployCommand, deployCommand, REPORTS_DIR } from './pipeline-cli.js'

/** Debian packages of the vitest suite: its harness starts its own PostgreSQL and Redis per test file. */
export const TEST_PACKAGES = ['postgresql-15', 'postgresql-client-15', 'redis-server'] as const

/**
 * Debian packages of the local target (its preflight names the same ones): PostgreSQL 15 server and client,
 * Redis built with TLS (Debian's is) and openssl for the environment's own CA. `socat` forwards the entry
 * URL, which the local target binds to loopback, to the container's address for `dagger up`.
 */
export const LOCAL_TARGET_PACKAGES = [...TEST_PACKAGES, 'openssl', 'socat'] as const

/** `apt-get install` of the given packages in one layer, lists removed afterwards. */
export function aptInstallScript(packages: readonly string[]): string {
  for (const name of packages) {
    if (!/^[a-z0-9][a-z0-9.+-]*$/.test(name)) throw new Error(`not a Debian package name: ${name}`)
  }
  return [
    'apt-get update -qq',
    `DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${packages.join(' ')} >/dev/null`,
    'rm -rf /var/lib/apt/lists/*',
  ].join(' && ')
}

/** The entry URL's port inside the container, where the local target's entry proxy listens on loopback. */
export const LOCAL_ENTRY_PORT = 8080
/** For `dagger up`: the proxy moves to this loopback port and socat serves LOCAL_ENTRY_PORT on every address. */
export const UP_INTERNAL_ENTRY_PORT = 18080

export interface LocalPipelineOptions {
  /** Bound of the load stage (LOAD_MAX_DURATION_S of the CLI). */
  loadMaxDurationSeconds?: number
  /** Entry proxy port of the local target (LOCAL_ENTRY_PORT of the CLI). */
  entryPort?: number
}

/**
 * Plain environment of the local container (no secret: the local target generates its own, mode 0600 in
 * `.pipeline/local/secrets.json`, and they leave the engine only inside the reports' scrubbed form).
 */
export function localPipelineEnv(options: LocalPipelineOptions = {}): Record<string, string> {
  const seconds = options.loadMaxDurationSeconds ?? 60
  if (!Number.isInteger(seconds) || seconds <= 0)
    throw new Error(`loadMaxDurationSeconds must be a positive integer, got ${seconds}`)
  return {
    LOCAL_ENTRY_PORT: String(options.entryPort ?? LOCAL_ENTRY_PORT),
    LOAD_MAX_DURATION_S: String(seconds),
    NO_COLOR: '1',
  }
}

export interface LocalDeploy {
  dryRun?: boolean
  allowDestructive?: boolean
  skipLoad?: boolean
}

/** `npx tsx ci/src/cli/main.ts deploy --target local --stack local [...]`: what `npm run deploy` runs. */
export function localDeployCommand(options: LocalDeploy = {}): string[] {
  const command: DeployCommand = { env: 'local', ...options }
  return deployCommand(command)
}

/** `npx tsx ci/src/cli/main.ts drill`: what `npm run drill` runs (it deploys first when nothing is up). */
export function drillCommand(): string[] {
  return [...CLI, 'drill']
}

/** The drill's report as the `drill` function returns it, next to `exit-code` in REPORTS_DIR. */
export const DRILL_FILES = { json: 'drill.json', markdown: 'drill.md' } as const

/**
 * The drill run: the CLI prints the report's Markdown on stdout (progress goes to stderr) and writes the JSON
 * as `drill-latest.json` (ci/src/drill/drill.ts); both are kept under fixed names with the exit code, and the
 * command exits with the drill's code (0 only when every figure is 0 and every fault recovered).
 */
export function drillScript(): string {
  const dir = REPORTS_DIR
  return [
    `mkdir -p ${dir}`,
    `${drillCommand().join(' ')} > ${dir}/${DRILL_FILES.markdown}`,
    'code=$?',
    `{ [ ! -f ${dir}/drill-latest.json ] || cp ${dir}/drill-latest.json ${dir}/${DRILL_FILES.json}; }`,
    `echo "$code" > ${dir}/exit-code`,
    'exit "$code"',
  ].join('\n')
}

/**
 * The start command of the `dagger up` service: the local target deployed by the CLI (the load stage
 * skipped: a developer environment, not a verdict), then the entry URL served on every address of the
 * container for the engine's port forwarding. Nothing listens on `LOCAL_ENTRY_PORT` until the deploy
 * succeeded, so the engine's health check waits for a ready environment; a failed deploy ends the service.
 */
export function upCommand(): string[] {
  const deploy = [
    'env',
    `LOCAL_ENTRY_PORT=${UP_INTERNAL_ENTRY_PORT}`,
    ...localDeployCommand({ skipLoad: true }),
  ].join(' ')
  const forward = `socat TCP-LISTEN:${LOCAL_ENTRY_PORT},fork,reuseaddr TCP:127.0.0.1:${UP_INTERNAL_ENTRY_PORT}`
  return ['sh', '-c', `${deploy} && exec ${forward}`]
}

/** Where the CLI writes the last deploy's report inside the container. */
export const LATEST_REPORT = `${REPORTS_DIR}/latest.json`

/**
 * A program run with `tsx --eval` in the container after the CLI, at the repository root: it reads the
 * report the CLI wrote and checks it with the core's own validator (`reportProblems` of
 * ci/src/core/report.ts: the schema and the core's stage list, in order). The module's runtime cannot load
 * the core (the engine gives it ci/dagger only); the container has the whole repository.
 */
export function reportCheckProgram(path: string = LATEST_REPORT): string {
  return [
    "import { existsSync, readFileSync } from 'node:fs'",
    "import { reportProblems } from './ci/src/core/report.ts'",
    `const path = ${JSON.stringify(path)}`,
    'const found = existsSync(path)',
    "const report = found ? JSON.parse(readFileSync(path, 'utf8')) : undefined",
    'const problems = found ? reportProblems(report) : []',
    'const stages = found && Array.isArray(report.stages) ? report.stages.map((s) => s.name) : []',
    'console.log(JSON.stringify({ found, problems, status: report?.status ?? null, stages }))',
  ].join('\n')
}

export function reportCheckCommand(path: string = LATEST_REPORT): string[] {
  return ['npx', '--no-install', 'tsx', '--eval', reportCheckProgram(path)]
}

export interface ReportCheck {
  found: boolean
  problems: string[]
  status: string | null
  stages: string[]
}

/** The last line of the check program's output. */
export function parseReportCheck(stdout: string): ReportCheck {
  const last = stdout.trim().split('\n').at(-1) ?? ''
  let parsed: Partial<ReportCheck>
  try {
    parsed = JSON.parse(last) as Partial<ReportCheck>
  } catch {
    throw new Error(`the report check did not print its JSON line: ${last.slice(0, 200)}`)
  }
  if (typeof parsed.found !== 'boolean' || !Array.isArray(parsed.problems) || !Array.isArray(parsed.stages))
    throw new Error(`the report check printed no verdict: ${last.slice(0, 200)}`)
  return {
    found: parsed.found,
    problems: parsed.problems,
    status: parsed.status ?? null,
    stages: parsed.stages,
  }
}

/**
 * Whether a local run's outcome may be handed on. A report that the core's validator refuses is never
 * returned (the module and the core disagree: that is a defect, not a failed deploy), `allowFailure` or not;
 * a run that exited 0 must have left a report.
 */
export function reportCheckError(exitCode: number, check: ReportCheck): string | undefined {
  if (check.found && check.problems.length > 0)
    return `the pipeline report is not the core's: ${check.problems.join('; ')}`
  if (!check.found && exitCode === 0) return `the pipeline exited 0 but left no ${LATEST_REPORT}`
  return undefined
}
