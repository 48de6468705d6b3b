/**
 * The whatsapp-saas pipeline as a Dagger module: `dagger call [module flags] <function>` from the repository root.
 *
 * A thin list of functions over the same pipeline the CLI runs (`npm run deploy`): the pipeline stages run the
 * repository's CLI inside a container, everything else is assembled in ./lib/*.ts. The constructor holds
 * what every function shares (the repository and the cloud credentials, as module flags); functions with a
 * side effect are never cached; credentials are Secrets (the OIDC session token included). */
import {
  argument,
  type Container,
  check,
  type Directory,
  dag,
  type File,
  func,
  object,
  type Secret,
  type Service,
  up,
} from '@dagger.io/dagger'
import { awsSecretVariables } from './lib/aws-credentials.js'
import {
  type CloudAccess,
  localTargetContainer,
  localTargetService,
  migrationSafetyRun,
  pipelineContainer,
  reportsOrThrow,
  resolveImagePins,
  runDrill,
  runK6,
  runLocalPipeline,
  runPipelineCli,
  serviceImage,
  toolbox,
  withCloudAccess,
} from './lib/containers.js'
import { ecrClient, ecrRegistryAuth, publishedImage } from './lib/ecr-auth.js'
import { awsEnvironment, parseEnvironment } from './lib/environments.js'
import { imageTag, parseDigestRef, registryHost, toDigestRef } from './lib/image-ref.js'
import { IMAGES, imagePinLines } from './lib/images.js'
import { k6Verdict } from './lib/k6.js'
import { localDeployCommand, TEST_PACKAGES } from './lib/local-pipeline.js'
import { migrationSafetyMarkdown, parseMigrationStatus } from './lib/migration-safety.js'
import { deployCommand, migrateCommand, rollbackCommand } from './lib/pipeline-cli.js'
import { pipelineContainerPlan } from './lib/pipeline-container.js'
import { previewCommand, provisionCommand } from './lib/pulumi.js'
import { smokeCommand, smokeSecretVariables } from './lib/smoke.js'
import { SOURCE_IGNORE } from './lib/source-filter.js'

@object()
export class WhatsappSaas {
  // Module state set once by the constructor (`dagger call [module flags] <function>`). Undecorated fields
  // are private to the module: kept across calls, never exposed as functions of their own.
  source: Directory
  awsAccessKeyId?: Secret
  awsSecretAccessKey?: Secret
  awsSessionToken?: Secret
  awsRegion: string
  pulumiAccessToken?: Secret
  pulumiBackendUrl?: string
  pulumiConfigPassphrase?: Secret

  constructor(
    /** The repository; the context directory (the git repository's root) by default. */
    @argument({ defaultPath: '/', ignore: SOURCE_IGNORE }) source: Directory,
    /** AWS credentials, for every function that reaches AWS (publish, preview, provision, AWS deploys, promote, rollback). */
    awsAccessKeyId?: Secret,
    awsSecretAccessKey?: Secret,
    /** The session token of short-lived credentials (OIDC in CI, SSO). */
    awsSessionToken?: Secret,
    awsRegion = 'us-east-1',
    /** Pulumi backend: Pulumi Cloud (`pulumiAccessToken`) or a self-managed URL (`pulumiBackendUrl`, e.g. s3://...). */
    pulumiAccessToken?: Secret,
    pulumiBackendUrl?: string,
    pulumiConfigPassphrase?: Secret,
  ) {
    this.source = source
    this.awsAccessKeyId = awsAccessKeyId
    this.awsSecretAccessKey = awsSecretAccessKey
    this.awsSessionToken = awsSessionToken
    this.awsRegion = awsRegion
    this.pulumiAccessToken = pulumiAccessToken
    this.pulumiBackendUrl = pulumiBackendUrl
    this.pulumiConfigPassphrase = pulumiConfigPassphrase
  }

  /** The service image (api/Dockerfile, repository root as context). */
  @func()
  build(
    /** Version baked into the image (APP_VERSION): the git SHA in CI. */
    version = 'dev',
    /** Node base image of the service (api/Dockerfile's NODE_IMAGE); the pinned one of lib/images.ts by default. */
    nodeImage?: string,
  ): Container {
    return serviceImage(this.source, version, nodeImage ?? IMAGES.nodeSlim)
  }

  /** Every base image's tag resolved to the digest its registry serves now: how lib/images.ts is bumped. */
  @func({ cache: 'never' })
  async imagePins(): Promise<string> {
    return imagePinLines(await resolveImagePins())
  }

  /** Lint and format check (Biome) of the whole repository. */
  @func()
  @check()
  async lint(): Promise<void> {
    await toolbox(this.source).withExec(['npx', 'biome', 'ci', '.']).sync()
  }

  /** TypeScript type check of every workspace. */
  @func()
  @check()
  async typecheck(): Promise<void> {
    await toolbox(this.source).withExec(['npm', 'run', 'typecheck']).sync()
  }

  /** The whole vitest suite (unit + integration against real PostgreSQL 15 and Redis 7). */
  @func()
  @check()
  async tests(): Promise<void> {
    await toolbox(this.source, { packages: TEST_PACKAGES }).withExec(['npx', 'vitest', 'run']).sync()
  }

  /** Lint, type check and the whole suite, exactly the repository's `npm test`; returns its output. */
  @func()
  async test(): Promise<string> {
    return toolbox(this.source, { packages: TEST_PACKAGES }).withExec(['npm', 'test']).stdout()
  }

  /** Builds and pushes the service image to ECR; returns the immutable `repository@sha256:...`. */
  @func({ cache: 'never' })
  async publish(
    /** ECR repository URL (infra output `ecrRepositoryUrl`), without tag. */
    repository: string,
    version = 'dev',
  ): Promise<string> {
    const { credentials, region } = this.cloudAccess()
    if (!credentials.accessKeyId || !credentials.secretAccessKey)
      throw new Error(
        'AWS credentials are required to publish (--aws-access-key-id, --aws-secret-access-key)',
      )
    const ecr = ecrClient(region, {
      accessKeyId: await credentials.accessKeyId.plaintext(),
      secretAccessKey: await credentials.secretAccessKey.plaintext(),
      ...(credentials.sessionToken ? { sessionToken: await credentials.sessionToken.plaintext() } : {}),
    })
    const auth = await ecrRegistryAuth(ecr)
    if (auth.registry !== registryHost(repository)) {
      throw new Error(
        `repository ${repository} is not in the ECR registry of these credentials (${auth.registry})`,
      )
    }
    const tagged = imageTag(repository, version) // the tag is the revision: refuses anything else first
    const existing = await publishedImage(ecr, repository, version)
    if (existing) return existing
    const published = await serviceImage(this.source, version)
      .withRegistryAuth(auth.registry, auth.username, dag.setSecret('ecr-password', auth.password))
      .publish(tagged)
    return toDigestRef(published)
  }

  /** `pulumi preview` of an infra stack (diff only, changes nothing). */
  @func({ cache: 'never' })
  async preview(stack: string): Promise<string> {
    const access = this.cloudAccess()
    return withCloudAccess(toolbox(this.source, { image: IMAGES.pulumi }), access)
      .withExec(previewCommand(awsEnvironment(stack)))
      .stdout()
  }

  /** `pulumi up` of an infra stack; returns the stack outputs as JSON (never secrets). */
  @func({ cache: 'never' })
  async provision(stack: string): Promise<string> {
    const access = this.cloudAccess()
    return withCloudAccess(toolbox(this.source, { image: IMAGES.pulumi }), access)
      .withExec(provisionCommand(awsEnvironment(stack)))
      .stdout()
  }

  /**
   * Backup, verify the backup, then migrate `image` on an AWS environment, through the target (ECS one-off
   * tasks), with the pipeline's gates: the CLI's `migrate` verb. A throwaway local environment has nothing
   * to migrate: locally, backup → verify → migrate are stages of `deploy --env=local`.
   */
  @func({ cache: 'never' })
  async migrate(
    env: string,
    /** `repository@sha256:...` whose migrations run. */
    image: string,
    allowDestructive = false,
    allowFailure = false,
  ): Promise<Directory> {
    const access = this.cloudAccess()
    const outcome = await runPipelineCli(
      pipelineContainer(this.source, access, pipelineContainerPlan('migrate')),
      migrateCommand(awsEnvironment(env), image, allowDestructive),
    )
    return reportsOrThrow(outcome, `migrate ${env}`, allowFailure)
  }

  /**
   * Safety verdict of the migrations this change adds: `base` is the target branch's tree (or its
   * api/prisma); its migrations are applied to an empty PostgreSQL, then the head's pending ones are
   * analysed. Returns Markdown for the job summary.
   */
  @func()
  async migrationSafety(base: Directory): Promise<string> {
    const stdout = await migrationSafetyRun(this.source, base.directory('api/prisma/migrations')).stdout()
    return migrationSafetyMarkdown(parseMigrationStatus(stdout))
  }

  /**
   * The whole pipeline for one environment; returns the report directory (JSON, Markdown summary,
   * exit-code). staging/production: builds, tests and publishes unless `image` is given, then runs the
   * pipeline CLI with that digest. local: the CLI's local target in one container (see endToEnd).
   */
  @func({ cache: 'never' })
  async deploy(
    env = 'local',
    /** Deploy this `repository@sha256:...` without rebuilding (promotion). */
    image?: string,
    /** ECR repository URL; needed to publish when no image is given. */
    repository?: string,
    version = 'dev',
    dryRun = false,
    allowDestructive = false,
    skipLoad = false,
    /** Return the reports of a failed run instead of failing (CI uploads them, then fails the job). */
    allowFailure = false,
  ): Promise<Directory> {
    if (parseEnvironment(env) === 'local')
      return this.localPipeline({ dryRun, allowDestructive, skipLoad }, allowFailure)
    let artifact = image
    if (!artifact) {
      if (!repository) throw new Error(`--repository is required to publish for ${env} (or pass --image)`)
      await this.test()
      artifact = await this.publish(repository, version)
    }
    const access = this.cloudAccess()
    const outcome = await runPipelineCli(
      pipelineContainer(this.source, access, pipelineContainerPlan('deploy', { skipLoad })),
      deployCommand({ env, image: artifact, dryRun, allowDestructive, skipLoad }),
    )
    return reportsOrThrow(outcome, `deploy ${env}`, allowFailure)
  }

  /** Production receives the given digest (the one staging passed) without rebuilding. */
  @func({ cache: 'never' })
  async promote(
    /** `repository@sha256:...` that passed staging. */
    image: string,
    allowDestructive = false,
    allowFailure = false,
  ): Promise<Directory> {
    parseDigestRef(image)
    const access = this.cloudAccess()
    const outcome = await runPipelineCli(
      pipelineContainer(this.source, access, pipelineContainerPlan('promote')),
      deployCommand({ env: 'production', image, allowDestructive }),
    )
    return reportsOrThrow(outcome, 'promote to production', allowFailure)
  }

  /** The smoke suite against any base URL; returns its JSON report. */
  @func({ cache: 'never' })
  async smoke(
    baseUrl: string,
    /** Version `/api/v1/status` must report (the deployed artifact's). */
    expectVersion?: string,
    apiKey?: Secret,
    adminToken?: Secret,
    appSecret?: Secret,
    verifyToken?: Secret,
  ): Promise<string> {
    let ctr = toolbox(this.source)
    for (const { name, secret } of smokeSecretVariables({ apiKey, adminToken, appSecret, verifyToken })) {
      ctr = ctr.withSecretVariable(name, secret)
    }
    return ctr.withExec(smokeCommand({ baseUrl, expectVersion })).stdout()
  }

  /** One k6 script (official grafana/k6 image) against a base URL; k6's exit code decides. Returns k6's summary. */
  @func({ cache: 'never' })
  async loadtest(
    baseUrl: string,
    /** webhook-ingest, message-send or read-api. */
    script = 'webhook-ingest',
    maxDurationSeconds = 60,
    apiKey?: Secret,
    appSecret?: Secret,
    phoneNumberId?: string,
    fakeGraphUrl?: string,
  ): Promise<File> {
    const env: Record<string, string> = { BASE_URL: baseUrl }
    if (phoneNumberId) env.PHONE_NUMBER_ID = phoneNumberId
    if (fakeGraphUrl) env.FAKE_GRAPH_URL = fakeGraphUrl
    const secrets: Record<string, Secret> = {}
    if (apiKey) secrets.API_KEY = apiKey
    if (appSecret) secrets.APP_SECRET = appSecret
    const run = await runK6(this.source.directory('loadtests/k6'), script, maxDurationSeconds, {
      env,
      secrets,
    })
    const verdict = k6Verdict(run.exitCode)
    if (!verdict.passed) throw new Error(`${script}: ${verdict.reason}\n${tail(run.output)}`)
    return run.summary
  }

  /**
   * Rolls an AWS environment back to the previous version, or to a given digest. The stack's outputs come
   * from Pulumi (give the backend as to deploy) or from `stackOutputs`, a JSON file of them.
   */
  @func({ cache: 'never' })
  async rollback(
    env: string,
    /** `repository@sha256:...` to return to; the previous revision when absent. */
    to?: string,
    /** The stack outputs as JSON (`pulumi stack output --json`), instead of reading them from Pulumi. */
    stackOutputs?: File,
    allowFailure = false,
  ): Promise<Directory> {
    const access = this.cloudAccess()
    const plan = pipelineContainerPlan('rollback', { stackOutputs: Boolean(stackOutputs) })
    const outcome = await runPipelineCli(
      pipelineContainer(this.source, access, plan, stackOutputs),
      rollbackCommand(awsEnvironment(env), to),
    )
    return reportsOrThrow(outcome, `rollback ${env}`, allowFailure)
  }

  /**
   * The whole pipeline on a throwaway local target: the host CLI's `deploy` (what `npm run deploy` runs)
   * in one container with Node 22, PostgreSQL 15, Redis 7 and k6 — the core's stages, gates, rollback,
   * deploy lock and report. Returns `.pipeline/reports` (`<runId>.json`, `latest.json`, `<runId>.md`,
   * `summary.md`, `exit-code`) once the core's own validator accepted the report.
   */
  @func({ cache: 'never' })
  async endToEnd(skipLoad = false, allowFailure = false): Promise<Directory> {
    return this.localPipeline({ skipLoad }, allowFailure)
  }

  /**
   * Fault drills on a throwaway local target under steady load (`npm run drill`: kill a replica, stop
   * Redis and PostgreSQL for 5 s, kill the worker mid-send, a broken build). Returns `drill.json`,
   * `drill.md`, `exit-code` and the reports of the deploys the drill ran.
   */
  @func({ cache: 'never' })
  async drill(allowFailure = false): Promise<Directory> {
    const run = await runDrill(this.source)
    if (run.exitCode !== 0 && !allowFailure)
      throw new Error(`drill failed (exit code ${run.exitCode}):\n${tail(run.output)}`)
    return run.reports
  }

  /**
   * The local environment for `dagger up`: the CLI's local target deployed in one container (PostgreSQL,
   * Redis, the fake Graph API, the replicas behind the entry proxy), its entry URL on port 8080. Throwaway:
   * every start deploys afresh. Other host ports: `dagger call local up --ports 9090:8080`.
   */
  @func()
  @up()
  local(): Service {
    return localTargetService(this.source)
  }

  private async localPipeline(
    options: { dryRun?: boolean; allowDestructive?: boolean; skipLoad?: boolean },
    allowFailure: boolean,
  ): Promise<Directory> {
    const container = localTargetContainer(this.source, { k6: !options.skipLoad && !options.dryRun })
    return runLocalPipeline(container, localDeployCommand(options), 'deploy local', allowFailure)
  }

  /** The module's cloud credentials; refuses half a key pair before any container starts. */
  private cloudAccess(): CloudAccess {
    const credentials = {
      accessKeyId: this.awsAccessKeyId,
      secretAccessKey: this.awsSecretAccessKey,
      sessionToken: this.awsSessionToken,
    }
    awsSecretVariables(credentials)
    return {
      credentials,
      region: this.awsRegion,
      pulumiAccessToken: this.pulumiAccessToken,
      pulumiBackendUrl: this.pulumiBackendUrl,
      pulumiConfigPassphrase: this.pulumiConfigPassphrase,
    }
  }
}

function tail(output: string, lines = 40): string {
  return output.trim().split('\n').slice(-lines).join('\n')
}
