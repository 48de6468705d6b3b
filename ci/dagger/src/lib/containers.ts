// Container builders of the module. Everything decidable without an engine (command lines, env,
// image refs, ignore lists) lives in the sibling files and is unit-tested; this file only assembles
// Dagger objects from those decisions.
import {
  CacheSharingMode,
  type Container,
  type Directory,
  dag,
  type File,
  ReturnType,
  type Secret,
  type Service,
} from '@dagger.io/dagger'
import { type AwsCredentials, awsRegionVariables, awsSecretVariables } from './aws-credentials.js'
import { IMAGE_PINS, IMAGES, type ImageName } from './images.js'
import { K6_SUMMARY, K6_WORKDIR, k6Command, k6DurationEnv } from './k6.js'
import {
  aptInstallScript,
  drillScript,
  LOCAL_ENTRY_PORT,
  LOCAL_TARGET_PACKAGES,
  localPipelineEnv,
  parseReportCheck,
  reportCheckCommand,
  reportCheckError,
  upCommand,
} from './local-pipeline.js'
import {
  BASE_MIGRATIONS_MOUNT,
  MIGRATION_SAFETY_DATABASE,
  migrationSafetyScript,
} from './migration-safety.js'
import { EXIT_CODE_FILE, REPORTS_DIR, recordingExitCode, SUMMARY_FILE } from './pipeline-cli.js'
import { K6_BINARY, type PipelineContainerPlan } from './pipeline-container.js'
import { INSTALL_MANIFESTS } from './source-filter.js'

export const WORKDIR = '/src'
const NPM_CACHE = 'whatsapp-saas-npm'

function withEnv(container: Container, env: Record<string, string>): Container {
  return Object.entries(env).reduce((ctr, [name, value]) => ctr.withEnvVariable(name, value), container)
}

export interface ToolboxOptions {
  /** Debian packages to install (TEST_PACKAGES: the test harness starts its own servers per test file). */
  packages?: readonly string[]
  /** Base image; the Pulumi image for anything that provisions (it carries the Pulumi CLI). */
  image?: string
}

/**
 * Node + the repository with `npm ci` done. Manifests are copied first so the dependency layer is
 * reused until a package.json or the lockfile changes; npm's download cache is a shared cache volume.
 */
export function toolbox(source: Directory, options: ToolboxOptions = {}): Container {
  let ctr = dag.container().from(options.image ?? IMAGES.node)
  if (options.packages?.length) ctr = ctr.withExec(['sh', '-c', aptInstallScript(options.packages)])
  return ctr
    .withMountedCache('/root/.npm', dag.cacheVolume(NPM_CACHE), { sharing: CacheSharingMode.Shared })
    .withEnvVariable('NPM_CONFIG_UPDATE_NOTIFIER', 'false')
    .withEnvVariable('NPM_CONFIG_FUND', 'false')
    .withEnvVariable('NPM_CONFIG_AUDIT', 'false')
    .withEnvVariable('CI', 'true')
    .withWorkdir(WORKDIR)
    .withDirectory(WORKDIR, source, { include: INSTALL_MANIFESTS })
    .withExec(['npm', 'ci'])
    .withDirectory(WORKDIR, source)
    .withExec(['npm', 'run', 'generate', '-w', 'api', '--if-present', '--silent'])
}

/** Each base image's tag as the registry resolves it now (`repository:tag@sha256:...`). */
export async function resolveImagePins(): Promise<Record<ImageName, string>> {
  const resolved = await Promise.all(
    Object.entries(IMAGE_PINS).map(async ([name, pin]) => [
      name,
      await dag.container().from(pin.tag).imageRef(),
    ]),
  )
  return Object.fromEntries(resolved) as Record<ImageName, string>
}

/** The service image, built from api/Dockerfile exactly as any container CLI would build it. */
export function serviceImage(
  source: Directory,
  version: string,
  nodeImage: string = IMAGES.nodeSlim,
): Container {
  return source
    .dockerBuild({
      dockerfile: 'api/Dockerfile',
      buildArgs: [
        { name: 'APP_VERSION', value: version },
        { name: 'NODE_IMAGE', value: nodeImage },
      ],
    })
    .withLabel('org.opencontainers.image.revision', version)
    .withLabel('org.opencontainers.image.title', 'whatsapp-saas-api')
}

export interface CloudAccess {
  credentials: AwsCredentials<Secret>
  region: string
  pulumiAccessToken?: Secret | null
  pulumiBackendUrl?: string | null
  pulumiConfigPassphrase?: Secret | null
}

/** AWS and Pulumi credentials as secret env; region and backend as plain env. */
export function withCloudAccess(container: Container, access: CloudAccess): Container {
  let ctr = withEnv(container, awsRegionVariables(access.region))
  for (const { name, secret } of awsSecretVariables(access.credentials))
    ctr = ctr.withSecretVariable(name, secret)
  if (access.pulumiAccessToken) ctr = ctr.withSecretVariable('PULUMI_ACCESS_TOKEN', access.pulumiAccessToken)
  if (access.pulumiConfigPassphrase) {
    ctr = ctr.withSecretVariable('PULUMI_CONFIG_PASSPHRASE', access.pulumiConfigPassphrase)
  }
  if (access.pulumiBackendUrl) ctr = ctr.withEnvVariable('PULUMI_BACKEND_URL', access.pulumiBackendUrl)
  return ctr.withEnvVariable('PULUMI_SKIP_UPDATE_CHECK', 'true')
}

/**
 * The container a pipeline CLI command runs in: the repository on the Pulumi image with the cloud
 * credentials; for a load stage, k6 copied from the official image (the stage is driven by the pipeline
 * CLI inside this container, which finds k6 on PATH; k6 is a static binary, so the official build runs
 * here unchanged); a stack outputs file when one is given.
 */
export function pipelineContainer(
  source: Directory,
  access: CloudAccess,
  plan: PipelineContainerPlan,
  stackOutputs?: File | null,
): Container {
  let ctr = withEnv(withCloudAccess(toolbox(source, { image: IMAGES[plan.image] }), access), plan.env)
  if (plan.k6) ctr = withK6(ctr)
  if (plan.env.AWS_STACK_OUTPUTS_FILE) {
    if (!stackOutputs) throw new Error('the plan reads a stack outputs file but none was given')
    ctr = ctr.withMountedFile(plan.env.AWS_STACK_OUTPUTS_FILE, stackOutputs)
  }
  return ctr
}

/** k6 copied from the pinned official image onto PATH: the load stage runs k6 rather than autocannon. */
function withK6(container: Container): Container {
  return container.withFile(K6_BINARY.path, dag.container().from(IMAGES.k6).file(K6_BINARY.image), {
    permissions: 0o755,
  })
}

export interface RunOutcome {
  /** The container after the run (its files are the run's). */
  container: Container
  exitCode: number
  /** `.pipeline/reports` of the run plus `summary.md` and `exit-code`. */
  reports: Directory
  output: string
}

/**
 * Runs a pipeline CLI command to its end, whatever its exit code, and returns its reports. Never
 * cached: a deploy is a side effect, two identical calls are two deploys.
 */
export async function runPipelineCli(container: Container, argv: string[]): Promise<RunOutcome> {
  const ran = container
    .withEnvVariable('GITHUB_STEP_SUMMARY', `${WORKDIR}/${SUMMARY_FILE}`)
    .withEnvVariable('FORCE_COLOR', '0')
    .withExec(recordingExitCode(argv), { expect: ReturnType.Any })
  const exitCode = await ran.exitCode()
  const output = `${await ran.stdout()}\n${await ran.stderr()}`
  return { container: ran, exitCode, reports: ran.directory(`${WORKDIR}/${REPORTS_DIR}`), output }
}

/** The reports directory, or an error carrying the tail of the output when the run failed. */
export function reportsOrThrow(outcome: RunOutcome, what: string, allowFailure: boolean): Directory {
  if (outcome.exitCode !== 0 && !allowFailure) {
    const tail = outcome.output.trim().split('\n').slice(-40).join('\n')
    throw new Error(`${what} failed (exit code ${outcome.exitCode}):\n${tail}`)
  }
  return outcome.reports
}

export { EXIT_CODE_FILE }

// --- the local target in one container ----------------------------------------------------------------

/**
 * The container the host CLI's local target runs in (see local-pipeline.ts): the repository with `npm ci`
 * done, PostgreSQL 15, Redis 7, openssl and socat from Debian, and k6 when the load stage runs.
 */
export function localTargetContainer(source: Directory, options: { k6?: boolean } = {}): Container {
  const ctr = withEnv(toolbox(source, { packages: LOCAL_TARGET_PACKAGES }), localPipelineEnv())
  return options.k6 ? withK6(ctr) : ctr
}

/**
 * Runs a CLI command of the local target and hands on its reports once the core's own validator has
 * accepted the report it wrote (`reportCheckCommand`): the reports directory, or an error with the output's
 * tail when the run failed and `allowFailure` is not set.
 */
export async function runLocalPipeline(
  container: Container,
  argv: string[],
  what: string,
  allowFailure: boolean,
): Promise<Directory> {
  const outcome = await runPipelineCli(container, argv)
  const check = parseReportCheck(await outcome.container.withExec(reportCheckCommand()).stdout())
  const mismatch = reportCheckError(outcome.exitCode, check)
  if (mismatch) throw new Error(`${what}: ${mismatch}`)
  return reportsOrThrow(outcome, what, allowFailure)
}

/** `dagger up`'s environment: the CLI deploys the local target, then the entry URL is served on LOCAL_ENTRY_PORT. */
export function localTargetService(source: Directory): Service {
  return localTargetContainer(source).withExposedPort(LOCAL_ENTRY_PORT).asService({ args: upCommand() })
}

/** `npm run drill` in the local container; the reports directory holds drill.json, drill.md and exit-code. */
export async function runDrill(source: Directory): Promise<Omit<RunOutcome, 'container'>> {
  const ran = localTargetContainer(source).withExec(['sh', '-c', drillScript()], { expect: ReturnType.Any })
  const exitCode = await ran.exitCode()
  const output = `${await ran.stdout()}\n${await ran.stderr()}`
  return { exitCode, reports: ran.directory(`${WORKDIR}/${REPORTS_DIR}`), output }
}

// --- k6 --------------------------------------------------------------------------------------------

export interface K6Inputs {
  /** Plain env (BASE_URL, PHONE_NUMBER_ID, ...). */
  env: Record<string, string>
  /** Secret env (API_KEY, APP_SECRET). */
  secrets: Record<string, Secret>
}

export interface K6Run {
  exitCode: number
  summary: File
  output: string
}

/** One k6 script in the official image; loadtests/k6 is mounted, not baked into an image. */
export async function runK6(
  scripts: Directory,
  script: string,
  maxDurationSeconds: number,
  inputs: K6Inputs,
): Promise<K6Run> {
  let ctr = dag
    .container()
    .from(IMAGES.k6)
    .withUser('root')
    .withMountedDirectory(K6_WORKDIR, scripts)
    .withWorkdir(K6_WORKDIR)
    .withExec(['mkdir', '-p', '/out'])
  ctr = withEnv(withEnv(ctr, inputs.env), k6DurationEnv(maxDurationSeconds))
  for (const [name, secret] of Object.entries(inputs.secrets)) ctr = ctr.withSecretVariable(name, secret)
  const ran = ctr.withExec(k6Command(script), { expect: ReturnType.Any })
  const exitCode = await ran.exitCode()
  return { exitCode, summary: ran.file(K6_SUMMARY), output: `${await ran.stdout()}\n${await ran.stderr()}` }
}

// --- migration safety ------------------------------------------------------------------------------

/** `migration-status` of the head branch against a database migrated to the base branch. */
export function migrationSafetyRun(source: Directory, baseMigrations: Directory): Container {
  const postgres = dag
    .container()
    .from(IMAGES.postgres)
    // Trust authentication: an empty throwaway database reachable only through this service binding.
    .withEnvVariable('POSTGRES_HOST_AUTH_METHOD', 'trust')
    .withEnvVariable('POSTGRES_DB', MIGRATION_SAFETY_DATABASE.name)
    .withExposedPort(5432)
    .asService({ useEntrypoint: true })
  return toolbox(source)
    .withServiceBinding(MIGRATION_SAFETY_DATABASE.host, postgres)
    .withEnvVariable('DATABASE_URL', MIGRATION_SAFETY_DATABASE.url)
    .withMountedDirectory(BASE_MIGRATIONS_MOUNT, baseMigrations)
    .withExec(['sh', '-c', migrationSafetyScript()])
}
