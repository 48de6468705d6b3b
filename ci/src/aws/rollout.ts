// Rollout and rollback of the API and worker services. Pulumi owns the task definitions (environment,
// secrets, CPU, memory); the rollout takes Pulumi's revision of each service (stack outputs
// apiTaskDefinitionArn / workerTaskDefinitionArn) and changes only the image, updates the services one
// after the other, follows each deployment by id to its own end state, waits for healthy ALB targets, and
// returns to the previous revisions when it does not work out. Revisions a rollback abandons are
// deregistered, so the family's latest ACTIVE revision (what the scheduled backup runs) is what serves.
import type { TaskDefinition } from '@aws-sdk/client-ecs'
import type { RolloutResult, RunContext } from '../core/types.js'
import {
  deregisterRevision,
  describeService,
  describeTaskDefinition,
  followDeployment,
  listRevisions,
  recentEvents,
  registerTaskDefinition,
  revisionName,
  revisionNumber,
  type StoppedTaskReport,
  startDeployment,
  stoppedTasks,
  waitForHealthyTargets,
} from './ecs-services.js'
import { AwsTargetError, WaitTimeoutError } from './errors.js'
import { parseImageReference } from './image-reference.js'
import type { AwsRuntime } from './runtime.js'
import type { StackOutputs } from './stack-outputs.js'
import { diffTaskDefinition, serviceImage, taskDefinitionWithImage } from './task-definition.js'
import { WaitAbortedError } from './waiting.js'

/** One service moving from one revision to another. */
export interface ServiceMove {
  serviceName: string
  fromArn: string
  toArn: string
  /** Start new tasks even when the revision does not change (a restart). */
  restart?: boolean
}

interface MoveRecord extends ServiceMove {
  deploymentId?: string
  state: 'pending' | 'completed' | 'failed' | 'timed_out' | 'reverted' | 'revert_failed'
  reason?: string
  events?: string[]
  stoppedTasks?: StoppedTaskReport[]
  stoppedTasksError?: string
}

export interface DeployOutcome {
  status: RolloutResult['status']
  summary: string
  details: Record<string, unknown>
}

export function serviceNames(outputs: StackOutputs): string[] {
  return [outputs.apiServiceName, outputs.workerServiceName]
}

async function serving(runtime: AwsRuntime, outputs: StackOutputs, serviceName: string) {
  const service = await describeService(runtime, outputs.clusterName, serviceName)
  if (!service.taskDefinition) throw new AwsTargetError(`ECS service ${serviceName} has no task definition`)
  return { arn: service.taskDefinition, ...(await describeTaskDefinition(runtime, service.taskDefinition)) }
}

/** Reports where an interrupted rollout left things, so nothing half-done goes unreported. */
function interrupted(records: MoveRecord[], registered: string[]): AwsTargetError {
  const lines = [
    'interrupted.',
    ...registered.map((arn) => `registered revision ${revisionName(arn)} (left ACTIVE)`),
    ...records
      .filter((record) => record.deploymentId)
      .map(
        (record) =>
          `${record.serviceName} was updated to ${revisionName(record.toArn)} (deployment ${record.deploymentId}); ECS keeps deploying it`,
      ),
    'Return to the previous version with `npx tsx ci/src/cli/main.ts rollback --target aws --stack <stack>`.',
  ]
  // One line: reports and summaries keep only the first line of a failure.
  return new AwsTargetError(lines.join(' '))
}

function familyOf(arn: string): string {
  const name = revisionName(arn)
  return name.slice(0, name.lastIndexOf(':'))
}

/**
 * Deregisters the revisions of `servingArn`'s family a rollback left behind: every ACTIVE revision newer than
 * the one now serving, and any older one running an image the rollback abandoned. The family's latest ACTIVE
 * revision is then the one serving, which is what the scheduled backup (family ARN without revision) runs and
 * what a later "previous revision" rollback starts from. Best effort: a failure is a warning, the rollback stands.
 */
export async function abandonRevisions(
  runtime: AwsRuntime,
  servingArn: string,
  abandonedImages: Set<string>,
  ctx: RunContext,
  repositoryUrl?: string,
): Promise<string[]> {
  const deregistered: string[] = []
  try {
    const serving = revisionNumber(servingArn)
    for (const candidate of await listRevisions(runtime, familyOf(servingArn))) {
      if (candidate === servingArn) continue
      let abandon = revisionNumber(candidate) > serving
      if (!abandon && repositoryUrl && abandonedImages.size > 0) {
        const { definition } = await describeTaskDefinition(runtime, candidate)
        abandon = abandonedImages.has(serviceImage(definition, repositoryUrl))
      }
      if (!abandon) continue
      await deregisterRevision(runtime, candidate)
      deregistered.push(candidate)
      ctx.log.info(`deregistered abandoned revision ${revisionName(candidate)}`)
    }
  } catch (error) {
    ctx.log.warn(`could not deregister the revisions the rollback abandoned: ${(error as Error).message}`)
  }
  return deregistered
}

async function revert(runtime: AwsRuntime, outputs: StackOutputs, records: MoveRecord[], ctx: RunContext) {
  for (const record of [...records].reverse()) {
    if (!record.deploymentId) continue
    ctx.log.warn(`rolling ${record.serviceName} back to ${revisionName(record.fromArn)}`)
    try {
      const id = await startDeployment(runtime, outputs.clusterName, record.serviceName, record.fromArn)
      const outcome = await followDeployment(runtime, outputs.clusterName, record.serviceName, id, ctx)
      if (outcome.state === 'completed') {
        if (record.state === 'completed' || record.state === 'timed_out') record.state = 'reverted'
        await abandonRevisions(runtime, record.fromArn, new Set(), ctx)
      } else {
        record.state = 'revert_failed'
        record.reason = `${record.reason ?? ''} rollback deployment failed: ${outcome.reason}`.trim()
      }
    } catch (error) {
      if (error instanceof WaitAbortedError) throw error
      record.state = 'revert_failed'
      record.reason = `${record.reason ?? ''} rollback failed: ${(error as Error).message}`.trim()
    }
  }
}

/** Each piece of evidence is read on its own: one that cannot be read never replaces one already read. */
async function evidence(runtime: AwsRuntime, outputs: StackOutputs, record: MoveRecord, since: Date) {
  try {
    const service = await describeService(runtime, outputs.clusterName, record.serviceName)
    record.events = recentEvents(service, since)
  } catch (error) {
    record.events = [`(could not read service events: ${(error as Error).message})`]
  }
  try {
    record.stoppedTasks = await stoppedTasks(runtime, outputs.clusterName, record.serviceName, record.toArn)
  } catch (error) {
    record.stoppedTasksError = `could not list stopped tasks: ${(error as Error).message}`
  }
}

function describeRecords(records: MoveRecord[]): string {
  return records
    .filter((record) => record.state !== 'pending')
    .map((record) => `${record.serviceName} ${record.state}${record.reason ? ` (${record.reason})` : ''}`)
    .join('; ')
}

/**
 * Moves the services one after the other. A FAILED deployment (including one the circuit breaker rolled
 * back) is a failure; a deployment stuck past the timeout, or targets that never turn healthy, make this
 * function return every moved service to its previous revision itself.
 */
export async function moveServices(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  moves: ServiceMove[],
  ctx: RunContext,
  registered: string[] = [],
): Promise<DeployOutcome> {
  const records: MoveRecord[] = moves.map((move) => ({ ...move, state: 'pending' }))
  const since = new Date(runtime.clock.now())
  try {
    for (const record of records) {
      if (record.fromArn === record.toArn && !record.restart) {
        ctx.log.info(`${record.serviceName} already runs ${revisionName(record.toArn)}`)
        record.state = 'completed'
        continue
      }
      record.deploymentId = await startDeployment(
        runtime,
        outputs.clusterName,
        record.serviceName,
        record.toArn,
        record.restart === true,
      )
      ctx.log.info(
        `${record.serviceName}: ${revisionName(record.fromArn)} → ${revisionName(record.toArn)}, deployment ${record.deploymentId}`,
      )
      try {
        const outcome = await followDeployment(
          runtime,
          outputs.clusterName,
          record.serviceName,
          record.deploymentId,
          ctx,
        )
        if (outcome.state === 'completed') {
          record.state = 'completed'
          continue
        }
        record.state = 'failed'
        record.reason = outcome.rolledBackByCircuitBreaker
          ? `${outcome.reason}; the ECS circuit breaker rolled it back to ${revisionName(record.fromArn)}`
          : outcome.reason
        if (outcome.rolledBackByCircuitBreaker)
          await abandonRevisions(runtime, record.fromArn, new Set(), ctx)
        await evidence(runtime, outputs, record, since)
        await revert(
          runtime,
          outputs,
          records.filter((other) => other !== record),
          ctx,
        )
        return {
          status: 'failed',
          summary: `rollout failed: ${describeRecords(records)}`,
          details: { services: records },
        }
      } catch (error) {
        if (!(error instanceof WaitTimeoutError)) throw error
        record.state = 'timed_out'
        record.reason = error.message
        await evidence(runtime, outputs, record, since)
        await revert(runtime, outputs, records, ctx)
        return rolledBackOrFailed(records, `rollout of ${record.serviceName} timed out`)
      }
    }
    try {
      const health = await waitForHealthyTargets(runtime, outputs.targetGroupArn, ctx)
      return {
        status: 'succeeded',
        summary: `${records.map((record) => `${record.serviceName} → ${revisionName(record.toArn)}`).join(', ')}; ${health.healthy} healthy target(s)`,
        details: { services: records, healthyTargets: health.healthy },
      }
    } catch (error) {
      if (!(error instanceof WaitTimeoutError)) throw error
      await revert(runtime, outputs, records, ctx)
      return rolledBackOrFailed(records, `ALB targets never all turned healthy (${error.message})`)
    }
  } catch (error) {
    if (error instanceof WaitAbortedError) throw interrupted(records, registered)
    throw error
  }
}

function rolledBackOrFailed(records: MoveRecord[], cause: string): DeployOutcome {
  const revertFailed = records.some((record) => record.state === 'revert_failed')
  return {
    status: revertFailed ? 'failed' : 'rolled_back',
    summary: `${cause}; ${revertFailed ? 'returning to the previous revision FAILED' : 'returned to the previous revision'}: ${describeRecords(records)}`,
    details: { services: records },
  }
}

export interface RevisionPlan {
  serviceName: string
  current: TaskDefinition
  currentArn: string
  /** Pulumi's revision the new one is based on (stack output). */
  baseArn: string
  diff: string[]
  /** True when Pulumi's revision already runs the image: it is used as it is, nothing registered. */
  reusesBase: boolean
  register: () => Promise<string>
}

/** Pulumi's revision of a service: the only source of its environment, secrets, CPU and memory. */
export function pulumiRevision(outputs: StackOutputs, serviceName: string): string {
  return serviceName === outputs.workerServiceName
    ? outputs.workerTaskDefinitionArn
    : outputs.apiTaskDefinitionArn
}

/** The revision that runs `image` in Pulumi's lineage: Pulumi's own when it runs it, else a copy with it. */
export async function revisionForImage(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  baseArn: string,
  image: string,
) {
  const { definition: base, tags } = await describeTaskDefinition(runtime, baseArn)
  const input = taskDefinitionWithImage(base, image, outputs.ecrRepositoryUrl, tags)
  // An INACTIVE revision (one a rollback deregistered) cannot run a service: a copy is registered instead.
  const reusesBase = serviceImage(base, outputs.ecrRepositoryUrl) === image && base.status !== 'INACTIVE'
  return {
    base,
    input,
    reusesBase,
    register: async () =>
      reusesBase ? baseArn : (await registerTaskDefinition(runtime, input)).taskDefinitionArn!,
  }
}

/** For each service, the revision it moves to (Pulumi's, with `image`) and what changes (nothing registered yet). */
export async function planImageChange(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  image: string,
): Promise<RevisionPlan[]> {
  return Promise.all(
    serviceNames(outputs).map(async (serviceName) => {
      const { arn, definition } = await serving(runtime, outputs, serviceName)
      const baseArn = pulumiRevision(outputs, serviceName)
      const next = await revisionForImage(runtime, outputs, baseArn, image)
      return {
        serviceName,
        current: definition,
        currentArn: arn,
        baseArn,
        diff: diffTaskDefinition(definition, next.input),
        reusesBase: next.reusesBase,
        register: next.register,
      }
    }),
  )
}

/** Rolls both services out to `image`; in dry-run only shows each task definition diff. */
export async function rolloutImage(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  image: string,
  ctx: RunContext,
): Promise<DeployOutcome> {
  const plans = await planImageChange(runtime, outputs, image)
  for (const plan of plans) {
    ctx.log.info(
      `${plan.serviceName}: ${revisionName(plan.currentArn)} → Pulumi's ${revisionName(plan.baseArn)}${plan.reusesBase ? '' : ' with the image'}; task definition diff:`,
    )
    for (const line of plan.diff.length > 0 ? plan.diff : ['(no change)']) ctx.log.info(`  ${line}`)
  }
  if (ctx.dryRun) {
    return {
      status: 'succeeded',
      summary: `dry-run: would register ${plans.length} revision(s) running ${image} and update ${plans.map((plan) => plan.serviceName).join(', ')}`,
      details: { diff: Object.fromEntries(plans.map((plan) => [plan.serviceName, plan.diff])) },
    }
  }
  const registered: string[] = []
  const moves: ServiceMove[] = []
  try {
    for (const plan of plans) {
      if (ctx.signal.aborted) throw new WaitAbortedError('interrupted before registering')
      const arn = plan.diff.length === 0 ? plan.currentArn : await plan.register()
      if (arn !== plan.currentArn && !(plan.reusesBase && arn === plan.baseArn)) {
        registered.push(arn)
        ctx.log.info(`registered ${revisionName(arn)}`)
      }
      moves.push({ serviceName: plan.serviceName, fromArn: plan.currentArn, toArn: arn })
    }
  } catch (error) {
    if (error instanceof WaitAbortedError) throw interrupted([], registered)
    throw error
  }
  return moveServices(runtime, outputs, moves, ctx, registered)
}

/**
 * The revision a service ran before its current one: the newest older ACTIVE revision of the same family
 * whose image differs (re-registrations of the same image are skipped).
 */
export async function previousRevision(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  serviceName: string,
): Promise<{ currentArn: string; previousArn: string }> {
  const { arn, definition } = await serving(runtime, outputs, serviceName)
  const currentImage = serviceImage(definition, outputs.ecrRepositoryUrl)
  const revisions = await listRevisions(runtime, definition.family!)
  for (const candidate of revisions) {
    const revision = Number(candidate.slice(candidate.lastIndexOf(':') + 1))
    if (revision >= (definition.revision ?? 0)) continue
    const { definition: older } = await describeTaskDefinition(runtime, candidate)
    const olderImage = serviceImage(older, outputs.ecrRepositoryUrl)
    // Only revisions pinned to a digest were ever deployed by the pipeline (not the infra's placeholder tag).
    if (olderImage !== currentImage && parseImageReference(olderImage).digest) {
      return { currentArn: arn, previousArn: candidate }
    }
  }
  throw new AwsTargetError(
    `${serviceName}: no earlier ACTIVE revision of ${definition.family} runs a different image`,
  )
}

/** Replaces every task of both services with new ones on the same revision (e.g. after a secret changed). */
export async function restartServices(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  ctx: RunContext,
): Promise<DeployOutcome> {
  const moves: ServiceMove[] = []
  for (const serviceName of serviceNames(outputs)) {
    const { arn } = await serving(runtime, outputs, serviceName)
    moves.push({ serviceName, fromArn: arn, toArn: arn, restart: true })
  }
  return moveServices(runtime, outputs, moves, ctx)
}
