// The AWS target: the pipeline's Target port implemented over ECR, Pulumi, ECS one-off tasks and ECS
// service deployments of one stack (staging or production).
import { join } from 'node:path'
import type {
  Artifact,
  DeployLock,
  OpsCommand,
  OpsResult,
  ProvisionResult,
  RolloutResult,
  RunContext,
  Target,
} from '../core/types.js'
import { type AwsClients, createAwsClients, maxAttemptsFromEnv } from './clients.js'
import { type ContainerCli, detectContainerCli } from './container-cli.js'
import { acquireDeployLock, DEFAULT_LOCK_TTL_MS } from './deploy-lock.js'
import { describeService, describeTaskDefinition } from './ecs-services.js'
import { AwsTargetError, describeAwsError, wrapAwsError } from './errors.js'
import { isDigest, parseImageReference, pinnedImage, versionTag } from './image-reference.js'
import { runOpsTask } from './ops-task.js'
import { runPreflight } from './preflight.js'
import { pulumiProvisioner, type StackProvisioner } from './provisioner.js'
import { findEcrImage, publishImage, versionOf } from './publish.js'
import { markServing, readPassedRelease, recordPassedRelease, repositoryOwner } from './releases.js'
import {
  abandonRevisions,
  type DeployOutcome,
  moveServices,
  previousRevision,
  rolloutImage,
  serviceNames,
} from './rollout.js'
import { type AwsRuntime, type AwsTimeouts, createRuntime, timeoutsFromEnv } from './runtime.js'
import { readStackSecrets, serviceEnvironment } from './service-environment.js'
import {
  outputsCachePath,
  parseStackOutputs,
  readOutputsFile,
  type StackOutputs,
  saveOutputsCache,
} from './stack-outputs.js'
import { ensureSyntheticTenant, revokeSyntheticKey, type SyntheticTenant } from './synthetic-tenant.js'
import { serviceImage } from './task-definition.js'
import { type Clock, systemClock } from './waiting.js'

export interface AwsTargetOptions {
  stack: string
  /** Repository root: infra/ and .pipeline/ are found under it (default the working directory). */
  repoRoot?: string
  /** Region of the clients; default AWS_REGION, then the cached outputs' region, then us-east-1. */
  region?: string
  /** Stack outputs given up front (e.g. `--outputs file.json`) instead of reading them from Pulumi. */
  outputs?: Record<string, string>
  /** Scripted clients (tests); built with the adaptive retry strategy otherwise. */
  clients?: AwsClients
  /** SDK attempts per call (default AWS_MAX_ATTEMPTS or 8). */
  maxAttempts?: number
  provisioner?: StackProvisioner
  containerCli?: () => Promise<ContainerCli>
  timeouts?: Partial<AwsTimeouts>
  clock?: Clock
  /** Where provision caches the outputs (default `.pipeline`). */
  stateDir?: string
  infraDir?: string
  lockTtlMs?: number
}

export interface AwsTarget extends Target {
  readonly name: 'aws'
  /** The validated outputs of the stack (from the options, the last provision, Pulumi, or the cache). */
  stackOutputs(ctx?: RunContext): Promise<StackOutputs>
  readonly runtime: AwsRuntime
}

function artifactFromImage(image: string, version: string): Artifact {
  const reference = parseImageReference(image)
  if (!reference.digest) throw new AwsTargetError(`serving image ${image} is not pinned to a digest`)
  return { ref: reference.repository, digest: reference.digest, version }
}

function rolloutResult(outcome: DeployOutcome, previous?: Artifact, current?: Artifact): RolloutResult {
  return { status: outcome.status, previous, current, summary: outcome.summary, details: outcome.details }
}

export async function createAwsTarget(options: AwsTargetOptions): Promise<AwsTarget> {
  const repoRoot = options.repoRoot ?? process.cwd()
  const stateDir = options.stateDir ?? join(repoRoot, '.pipeline')
  const cachePath = outputsCachePath(options.stack, stateDir)
  const cached = options.outputs ?? (await readOutputsFile(cachePath))
  const region =
    options.region ??
    process.env.AWS_REGION ??
    process.env.AWS_DEFAULT_REGION ??
    cached?.region ??
    'us-east-1'
  const clients =
    options.clients ?? createAwsClients({ region, maxAttempts: options.maxAttempts ?? maxAttemptsFromEnv() })
  const runtime = createRuntime(
    clients,
    { ...timeoutsFromEnv(), ...options.timeouts },
    options.clock ?? systemClock,
  )
  const provisioner =
    options.provisioner ?? pulumiProvisioner(options.stack, options.infraDir ?? join(repoRoot, 'infra'))
  const containerCli = options.containerCli ?? (() => detectContainerCli())

  let raw: Record<string, string> | undefined = options.outputs
  const opsRevisions = new Map<string, string>()
  /** Secret values read during the run (admin token, Meta app secret): the core scrubs them everywhere. */
  const secrets: string[] = []
  /** The synthetic tenant's key minted for this run, revoked when the run ends (its deploy lock released). */
  let runKey: { baseUrl: string; adminToken: string; tenant: SyntheticTenant } | undefined
  const revokeRunKey = async (ctx: RunContext) => {
    if (!runKey) return
    const { tenant, ...input } = runKey
    runKey = undefined
    await revokeSyntheticKey(input, tenant).catch((error: unknown) =>
      ctx.log.warn(
        `revoking the synthetic tenant's run key ${tenant.keyId} failed (it expires by itself): ${describeAwsError(error)}`,
      ),
    )
  }
  let parsed: StackOutputs | undefined

  /** Raw outputs: explicit ones, else Pulumi's, else the cache of the last provision. */
  const rawOutputs = async (ctx?: RunContext): Promise<Record<string, string> | undefined> => {
    if (raw) return raw
    try {
      raw = await provisioner.outputs()
    } catch (error) {
      if (!cached) throw error
      ctx?.log.warn(`reading outputs from Pulumi failed (${(error as Error).message}); using ${cachePath}`)
      raw = cached
    }
    return raw
  }

  const stackOutputs = async (ctx?: RunContext): Promise<StackOutputs> => {
    if (parsed) return parsed
    const found = await rawOutputs(ctx)
    if (!found || Object.keys(found).length === 0) {
      throw new AwsTargetError(
        `stack ${options.stack} has no outputs: create it first (\`pulumi up --stack ${options.stack}\` in infra/, see ci/src/aws/README.md)`,
      )
    }
    parsed = parseStackOutputs(found)
    return parsed
  }

  const servingArtifact = async (): Promise<Artifact | undefined> => {
    const outputs = await stackOutputs()
    const service = await describeService(runtime, outputs.clusterName, outputs.apiServiceName)
    if (!service.taskDefinition) return undefined
    const { definition } = await describeTaskDefinition(runtime, service.taskDefinition)
    const image = serviceImage(definition, outputs.ecrRepositoryUrl)
    const reference = parseImageReference(image)
    const digest =
      reference.digest ??
      (reference.tag
        ? (await findEcrImage(runtime, outputs.ecrRepositoryUrl, { imageTag: reference.tag }))?.digest
        : undefined)
    // The infra's placeholder image (`<ecr>:bootstrap`) before the first rollout: nothing real serves yet.
    if (!digest) return undefined
    return artifactFromImage(
      pinnedImage(reference.repository, digest),
      await versionOf(runtime, outputs.ecrRepositoryUrl, digest),
    )
  }

  const guarded = async <T>(action: string, body: () => Promise<T>): Promise<T> => {
    try {
      return await body()
    } catch (error) {
      throw wrapAwsError(action, error)
    }
  }

  const target: AwsTarget = {
    name: 'aws',
    stack: options.stack,
    runtime,
    stackOutputs,

    async preflight(ctx) {
      let found: Record<string, string> | undefined
      const unmet: string[] = []
      try {
        found = await rawOutputs(ctx)
      } catch (error) {
        // Typically the Pulumi CLI missing or the stack not created: an unmet item, not a crash.
        unmet.push(`stack outputs: ${describeAwsError(error)}`)
      }
      return runPreflight(runtime, options.stack, found, ctx, unmet)
    },

    async acquireLock(ctx): Promise<DeployLock> {
      const found = await rawOutputs(ctx).catch(() => undefined)
      // Releasing the lock ends the run: the synthetic tenant's key of this run is revoked first.
      if (!found?.backupBucket) {
        ctx.log.warn(
          `stack ${options.stack} has no backup bucket yet: only Pulumi's own stack lock guards this first deploy`,
        )
        return { release: () => revokeRunKey(ctx) }
      }
      const lock = await acquireDeployLock(
        runtime,
        found.backupBucket,
        options.stack,
        ctx,
        options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS,
      )
      return {
        release: async () => {
          await revokeRunKey(ctx)
          await lock.release()
        },
      }
    },

    publish: (artifact, ctx) =>
      guarded('publish', async () =>
        publishImage(runtime, await stackOutputs(ctx), artifact, containerCli, ctx),
      ),

    async provision(ctx, artifact): Promise<ProvisionResult> {
      // Pulumi's revisions run the image being deployed: the rollout then only points the services at them.
      const image =
        artifact && isDigest(artifact.digest) ? pinnedImage(artifact.ref, artifact.digest) : undefined
      if (ctx.dryRun) {
        const preview = await provisioner.preview(ctx.log, ctx.signal, { image })
        const current = await rawOutputs(ctx).catch(() => undefined)
        return { summary: `preview: ${preview.summary}`, outputs: current ?? {}, changes: preview.changes }
      }
      const result = await provisioner.up(ctx.log, ctx.signal, { image })
      // Validated before anything uses them: a mismatch with infra/ is one error naming every key.
      parsed = parseStackOutputs(result.outputs)
      raw = result.outputs
      await saveOutputsCache(cachePath, result.outputs)
      return { summary: result.summary, outputs: result.outputs }
    },

    runOps: (command: OpsCommand, artifact: Artifact, ctx: RunContext): Promise<OpsResult> =>
      guarded(`ops ${command.name}`, async () => {
        const outputs = await stackOutputs(ctx)
        const image = pinnedImage(artifact.ref, artifact.digest)
        // The serving revision when it runs that image (operator verbs); otherwise Pulumi's revision with the
        // image (backup and migrate of a deploy, before the rollout).
        const service = await describeService(runtime, outputs.clusterName, outputs.apiServiceName)
        let base = outputs.apiTaskDefinitionArn
        if (service.taskDefinition) {
          const { definition } = await describeTaskDefinition(runtime, service.taskDefinition)
          if (serviceImage(definition, outputs.ecrRepositoryUrl) === image) base = service.taskDefinition
        }
        return runOpsTask(runtime, outputs, command, image, ctx, base, opsRevisions)
      }),

    rollout: (artifact, ctx) =>
      guarded('rollout', async () => {
        const outputs = await stackOutputs(ctx)
        const previous = await servingArtifact()
        const outcome = await rolloutImage(runtime, outputs, pinnedImage(artifact.ref, artifact.digest), ctx)
        if (outcome.status === 'succeeded' && !ctx.dryRun)
          await markServing(runtime, outputs, options.stack, artifact, previous, ctx)
        return rolloutResult(outcome, previous, outcome.status === 'succeeded' ? artifact : previous)
      }),

    rollback: (ctx, to) =>
      guarded('rollback', async () => {
        const outputs = await stackOutputs(ctx)
        const before = await servingArtifact()
        let outcome: DeployOutcome
        if (to) {
          ctx.log.info(`rolling back to ${to.ref}@${to.digest} (${to.version})`)
          outcome = await rolloutImage(runtime, outputs, pinnedImage(to.ref, to.digest), ctx)
        } else {
          const moves = []
          for (const serviceName of serviceNames(outputs)) {
            const { currentArn, previousArn } = await previousRevision(runtime, outputs, serviceName)
            moves.push({ serviceName, fromArn: currentArn, toArn: previousArn })
          }
          if (ctx.dryRun) {
            return {
              status: 'succeeded',
              previous: before,
              summary: `dry-run: would move ${moves.map((move) => `${move.serviceName} to ${move.toArn}`).join(', ')}`,
            }
          }
          outcome = await moveServices(runtime, outputs, moves, ctx)
        }
        const after = await servingArtifact()
        if (outcome.status === 'succeeded' && !ctx.dryRun) {
          // What the rollback left behind must neither be run by the scheduled backup (latest ACTIVE revision
          // of the family) nor be "the previous version" of a later rollback.
          const abandoned = new Set(before ? [pinnedImage(before.ref, before.digest)] : [])
          for (const serviceName of serviceNames(outputs)) {
            const serving = (await describeService(runtime, outputs.clusterName, serviceName)).taskDefinition
            if (serving) await abandonRevisions(runtime, serving, abandoned, ctx, outputs.ecrRepositoryUrl)
          }
          // `<stack>-previous` goes to what a later rollback would return to from here.
          const next = await previousRevision(runtime, outputs, outputs.apiServiceName)
            .then(async ({ previousArn }) => {
              const { definition } = await describeTaskDefinition(runtime, previousArn)
              const reference = parseImageReference(serviceImage(definition, outputs.ecrRepositoryUrl))
              return reference.digest
                ? { ref: reference.repository, digest: reference.digest, version: '' }
                : undefined
            })
            .catch(() => undefined)
          if (after) await markServing(runtime, outputs, options.stack, after, next, ctx)
        }
        // The rollback itself succeeding means the environment is rolled back.
        const status = outcome.status === 'succeeded' ? 'rolled_back' : 'failed'
        return {
          status,
          previous: before,
          current: after,
          summary: outcome.summary,
          details: outcome.details,
        }
      }),

    current: () => guarded('reading the serving version', servingArtifact),

    // A method (not an arrow): `this.baseUrl` is the URL of whoever wraps the target.
    environment(ctx) {
      return guarded('reading the service environment', async () => {
        const outputs = await stackOutputs(ctx)
        const url = await this.baseUrl(ctx)
        const stackSecrets = await readStackSecrets(runtime, outputs)
        // Scrubbed before anything can log them.
        secrets.push(...Object.values(stackSecrets).filter((v): v is string => Boolean(v)))
        let tenant: SyntheticTenant | undefined
        if (!stackSecrets.adminToken) {
          ctx.log.warn(
            `stack ${options.stack} gives no admin token (adminTokenSecretArn): no synthetic tenant, the keyed checks do not run`,
          )
        } else {
          await revokeRunKey(ctx)
          tenant = await ensureSyntheticTenant({
            baseUrl: url,
            adminToken: stackSecrets.adminToken,
            stack: options.stack,
            runId: ctx.runId,
            ...(outputs.syntheticGraphApiBaseUrl
              ? { syntheticGraphApiBaseUrl: outputs.syntheticGraphApiBaseUrl }
              : {}),
            now: runtime.clock.now(),
            signal: ctx.signal,
          })
          secrets.push(tenant.apiKey)
          runKey = { baseUrl: url, adminToken: stackSecrets.adminToken, tenant }
          ctx.log.info(
            `synthetic tenant ${tenant.organizationId}: run key ${tenant.keyId}${tenant.phoneNumberId ? `, phone number ${tenant.phoneNumberId} on ${outputs.syntheticGraphApiBaseUrl}` : ' (read-only)'}`,
          )
        }
        return serviceEnvironment(outputs, url, stackSecrets, tenant)
      })
    },

    secretValues: () => secrets,

    get loadByDefault() {
      // Only the stack that owns the image repository (staging) load-tests by default; the others deploy
      // digests it passed and carry its load results (promotionEvidence). Unknown before the outputs are read.
      return parsed ? repositoryOwner(parsed, options.stack) === options.stack : true
    },

    promotionEvidence: (artifact, ctx) =>
      guarded('reading the promoted release', async () => {
        const outputs = await stackOutputs(ctx)
        if (repositoryOwner(outputs, options.stack) === options.stack) return undefined
        const record = await readPassedRelease(runtime, outputs, artifact.digest)
        if (!record)
          throw new AwsTargetError(
            `${artifact.digest} never passed ${repositoryOwner(outputs, options.stack)}`,
          )
        ctx.log.info(`${artifact.digest} passed ${record.stack} in run ${record.runId} at ${record.passedAt}`)
        return { ...record }
      }),

    recordRelease: (release, ctx) =>
      guarded('recording the passed release', async () => {
        const outputs = await stackOutputs(ctx)
        if (repositoryOwner(outputs, options.stack) !== options.stack) return undefined
        return recordPassedRelease(runtime, outputs, {
          stack: options.stack,
          runId: release.runId,
          digest: release.artifact.digest,
          version: release.artifact.version,
          passedAt: new Date(runtime.clock.now()).toISOString(),
          smoke: { summary: release.smoke.summary, details: release.smoke.details },
          load: release.load ? { ...release.load } : null,
        })
      }),

    async baseUrl(ctx) {
      const outputs = await stackOutputs(ctx)
      return outputs.domain ? `https://${outputs.domain}` : `http://${outputs.albDnsName}`
    },

    resolve: (image, ctx) =>
      guarded(`resolving $image`, async () => {
        const outputs = await stackOutputs(ctx)
        const reference = parseImageReference(image)
        if (!reference.digest || !isDigest(reference.digest)) {
          throw new AwsTargetError(
            `--image must be ref@sha256:<digest> (got $image): tags are never deployed`,
          )
        }
        const found = await findEcrImage(runtime, outputs.ecrRepositoryUrl, { imageDigest: reference.digest })
        if (!found) throw new AwsTargetError(`${outputs.ecrRepositoryUrl}@${reference.digest} is not in ECR`)
        const owner = repositoryOwner(outputs, options.stack)
        if (owner !== options.stack && !(await readPassedRelease(runtime, outputs, reference.digest))) {
          throw new AwsTargetError(
            `refused: ${reference.digest} never passed ${owner} (no s3://${outputs.releaseEvidenceBucket ?? outputs.backupBucket}/releases record); deploy it to ${owner} first`,
          )
        }
        return {
          ref: outputs.ecrRepositoryUrl,
          digest: reference.digest,
          version: versionTag(found.tags) ?? reference.digest.slice(7, 19),
        }
      }),
  }
  return target
}
