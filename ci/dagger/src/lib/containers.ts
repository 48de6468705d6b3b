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
import { API_PORT, FAKE_GRAPH_PORT, IMAGE_PINS, IMAGES, type ImageName, SERVICE_HOSTS } from './images.js'
import { K6_SUMMARY, K6_WORKDIR, k6Command, k6DurationEnv } from './k6.js'
import {
  appCommand,
  fakeGraphEnvironment,
  LOCAL_DATABASE,
  LOCAL_SECRET_NAMES,
  type LocalSecretName,
  migrateScript,
  SERVICE_SECRET_NAMES,
  serviceEnvironment,
} from './local-environment.js'
import { BASE_MIGRATIONS_MOUNT, migrationSafetyScript } from './migration-safety.js'
import { EXIT_CODE_FILE, REPORTS_DIR, recordingExitCode, SUMMARY_FILE } from './pipeline-cli.js'
import { K6_BINARY, type PipelineContainerPlan } from './pipeline-container.js'
import { INSTALL_MANIFESTS } from './source-filter.js'

export const WORKDIR = '/src'
const NPM_CACHE = 'whatsapp-saas-npm'

function withEnv(container: Container, env: Record<string, string>): Container {
  return Object.entries(env).reduce((ctr, [name, value]) => ctr.withEnvVariable(name, value), container)
}

export interface ToolboxOptions {
  /** Install PostgreSQL 15 and Redis 7 binaries: the test harness starts its own servers per test file. */
  databases?: boolean
  /** Base image; the Pulumi image for anything that provisions (it carries the Pulumi CLI). */
  image?: string
}

/**
 * Node + the repository with `npm ci` done. Manifests are copied first so the dependency layer is
 * reused until a package.json or the lockfile changes; npm's download cache is a shared cache volume.
 */
export function toolbox(source: Directory, options: ToolboxOptions = {}): Container {
  let ctr = dag.container().from(options.image ?? IMAGES.node)
  if (options.databases) {
    ctr = ctr.withExec([
      'sh',
      '-c',
      'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-client-15 redis-server >/dev/null && rm -rf /var/lib/apt/lists/*',
    ])
  }
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
  if (plan.k6) {
    ctr = ctr.withFile(K6_BINARY.path, dag.container().from(IMAGES.k6).file(K6_BINARY.image), {
      permissions: 0o755,
    })
  }
  if (plan.env.AWS_STACK_OUTPUTS_FILE) {
    if (!stackOutputs) throw new Error('the plan reads a stack outputs file but none was given')
    ctr = ctr.withMountedFile(plan.env.AWS_STACK_OUTPUTS_FILE, stackOutputs)
  }
  return ctr
}

export interface RunOutcome {
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
  return { exitCode, reports: ran.directory(`${WORKDIR}/${REPORTS_DIR}`), output }
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

// --- local environment as services ---------------------------------------------------------------

export interface LocalEnvironment {
  postgres: Service
  redis: Service
  /** API, worker and fake Graph API (ports API_PORT and FAKE_GRAPH_PORT). */
  app: Service
  /** The service image with the environment's databases, env and secrets (for ops commands). */
  image: Container
  secrets: Record<LocalSecretName, Secret>
}

export interface LocalEnvironmentOptions {
  /** Keep PostgreSQL's data in a cache volume across calls (`dagger up`); throwaway otherwise. */
  persistent?: boolean
  /** Run backup → verify → migrate before anything starts (the app's start command). */
  migrateOnStart?: boolean
}

export function postgresService(persistent: boolean): Service {
  let ctr = dag
    .container()
    .from(IMAGES.postgres)
    // Trust authentication: reachable only through service bindings inside the engine.
    .withEnvVariable('POSTGRES_HOST_AUTH_METHOD', 'trust')
    .withEnvVariable('POSTGRES_DB', LOCAL_DATABASE)
  if (persistent) {
    ctr = ctr.withMountedCache('/var/lib/postgresql/data', dag.cacheVolume('whatsapp-saas-local-postgres'), {
      sharing: CacheSharingMode.Locked,
    })
  }
  return ctr.withExposedPort(5432).asService({ useEntrypoint: true })
}

export function redisService(): Service {
  return dag
    .container()
    .from(IMAGES.redis)
    .withExposedPort(6379)
    .asService({ args: ['redis-server', '--save', '', '--appendonly', 'no'], useEntrypoint: true })
}

/** The secrets of one local environment: random, created in the engine, never printed. */
export function localSecrets(random: (name: LocalSecretName) => string): Record<LocalSecretName, Secret> {
  return Object.fromEntries(
    LOCAL_SECRET_NAMES.map((name) => [name, dag.setSecret(name, random(name))]),
  ) as Record<LocalSecretName, Secret>
}

function withSecrets(
  container: Container,
  secrets: Record<LocalSecretName, Secret>,
  names: readonly LocalSecretName[],
): Container {
  return names.reduce((ctr, name) => ctr.withSecretVariable(name, secrets[name]), container)
}

export function localEnvironment(
  image: Container,
  version: string,
  secrets: Record<LocalSecretName, Secret>,
  options: LocalEnvironmentOptions = {},
): LocalEnvironment {
  const postgres = postgresService(options.persistent ?? false)
  const redis = redisService()
  // Ops commands get the service's secrets only; the app also runs the fake Graph API, whose token it needs.
  const withDatabases = withSecrets(
    withEnv(image, serviceEnvironment(version))
      .withServiceBinding(SERVICE_HOSTS.postgres, postgres)
      .withServiceBinding(SERVICE_HOSTS.redis, redis),
    secrets,
    SERVICE_SECRET_NAMES,
  )
  const app = withEnv(withDatabases, fakeGraphEnvironment())
    .withSecretVariable('FAKE_GRAPH_ACCESS_TOKEN', secrets.FAKE_GRAPH_ACCESS_TOKEN)
    .withExposedPort(API_PORT)
    .withExposedPort(FAKE_GRAPH_PORT)
    .asService({ args: appCommand(options.migrateOnStart ?? false) })
  return { postgres, redis, app, image: withDatabases, secrets }
}

/**
 * Backup → verify → migrate with the image's own ops commands against the environment's database.
 * Runs to its end whatever the exit code: the caller reads exitCode and the output.
 */
export function migrateLocal(environment: LocalEnvironment): Container {
  return environment.image.withExec(['sh', '-c', migrateScript()], { expect: ReturnType.Any })
}

/** A toolbox container that reaches the whole local environment by its service host names. */
export function withLocalEnvironment(container: Container, environment: LocalEnvironment): Container {
  return withSecrets(
    withEnv(container, serviceEnvironment('e2e'))
      .withServiceBinding(SERVICE_HOSTS.postgres, environment.postgres)
      .withServiceBinding(SERVICE_HOSTS.redis, environment.redis)
      .withServiceBinding(SERVICE_HOSTS.api, environment.app),
    environment.secrets,
    LOCAL_SECRET_NAMES,
  )
}

// --- k6 --------------------------------------------------------------------------------------------

export interface K6Inputs {
  /** Plain env (BASE_URL, PHONE_NUMBER_ID, ...). */
  env: Record<string, string>
  /** Secret env (API_KEY, APP_SECRET). */
  secrets: Record<string, Secret>
  /** A file of `export NAME='value'` lines sourced before k6 starts (inputs produced inside the engine). */
  exportsFile?: File
  bind?: (ctr: Container) => Container
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
  if (inputs.exportsFile) ctr = ctr.withMountedFile('/run/k6.env', inputs.exportsFile)
  if (inputs.bind) ctr = inputs.bind(ctr)
  const command = k6Command(script)
  const argv = inputs.exportsFile ? ['sh', '-c', `. /run/k6.env && exec ${command.join(' ')}`] : command
  const ran = ctr.withExec(argv, { expect: ReturnType.Any })
  const exitCode = await ran.exitCode()
  return { exitCode, summary: ran.file(K6_SUMMARY), output: `${await ran.stdout()}\n${await ran.stderr()}` }
}

// --- migration safety ------------------------------------------------------------------------------

/** `migration-status` of the head branch against a database migrated to the base branch. */
export function migrationSafetyRun(source: Directory, baseMigrations: Directory): Container {
  const postgres = postgresService(false)
  return toolbox(source)
    .withServiceBinding(SERVICE_HOSTS.postgres, postgres)
    .withEnvVariable('DATABASE_URL', serviceEnvironment('migration-safety').DATABASE_URL!)
    .withMountedDirectory(BASE_MIGRATIONS_MOUNT, baseMigrations)
    .withExec(['sh', '-c', migrationSafetyScript()])
}
