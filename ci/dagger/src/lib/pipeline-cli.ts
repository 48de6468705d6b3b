// Command lines of the repository's pipeline CLI (ci/src/cli/main.ts). The module never re-implements a
// stage: it prepares a container and runs the same CLI a developer runs with `npm run deploy`.
import { pipelineTarget } from './environments.js'
import { parseDigestRef } from './image-ref.js'

/** Where the CLI writes its reports inside the toolbox container (`<workdir>/.pipeline/reports`). */
export const REPORTS_DIR = '.pipeline/reports'
/** The CLI appends its Markdown report to $GITHUB_STEP_SUMMARY; inside the container it goes here. */
export const SUMMARY_FILE = `${REPORTS_DIR}/summary.md`
/** Exit code of the CLI, kept with the reports so CI can upload them before failing the job. */
export const EXIT_CODE_FILE = `${REPORTS_DIR}/exit-code`

export const CLI = ['npx', '--no-install', 'tsx', 'ci/src/cli/main.ts'] as const

export interface DeployCommand {
  env: string
  /** `repository@sha256:...`: deploy this artifact without rebuilding (promotion). */
  image?: string | null
  dryRun?: boolean
  allowDestructive?: boolean
  skipLoad?: boolean
}

function targetFlags(env: string): string[] {
  const { target, stack } = pipelineTarget(env)
  return ['--target', target, '--stack', stack]
}

function imageFlags(image: string | null | undefined): string[] {
  if (!image) return []
  parseDigestRef(image) // refuses tags: only an immutable digest is deployed
  return ['--image', image]
}

export function deployCommand(command: DeployCommand): string[] {
  return [
    ...CLI,
    'deploy',
    ...targetFlags(command.env),
    ...imageFlags(command.image),
    ...(command.dryRun ? ['--dry-run'] : []),
    ...(command.allowDestructive ? ['--allow-destructive'] : []),
    ...(command.skipLoad ? ['--skip-load'] : []),
  ]
}

export function rollbackCommand(env: string, to?: string | null): string[] {
  if (to) parseDigestRef(to) // only an immutable digest is a rollback target
  return [...CLI, 'rollback', ...targetFlags(env), ...(to ? ['--to', to] : [])]
}

export function backupCommand(env: string): string[] {
  return [...CLI, 'backup', ...targetFlags(env)]
}

/** Backup, verify, then migrate with the given image, through the target (ECS one-off tasks on AWS). */
export function migrateCommand(env: string, image: string, allowDestructive = false): string[] {
  return [
    ...CLI,
    'migrate',
    ...targetFlags(env),
    ...imageFlags(image),
    ...(allowDestructive ? ['--allow-destructive'] : []),
  ]
}

/**
 * Runs a command, keeps its exit code next to the reports, and exits with it. Wrapped in `sh -c` so a
 * failing pipeline still leaves a readable report directory behind (the function decides what to do).
 */
export function recordingExitCode(argv: string[]): string[] {
  const quoted = argv.map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`).join(' ')
  return [
    'sh',
    '-c',
    `mkdir -p ${REPORTS_DIR} && ${quoted}; code=$?; echo "$code" > ${EXIT_CODE_FILE}; exit "$code"`,
  ]
}
