// Reading and updating ECS services: their serving task definition, one deployment followed to its own end
// state, and the evidence (events, stopped tasks) that explains a failed one.
import {
  DeregisterTaskDefinitionCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  type Service,
  type Tag,
  type Task,
  type TaskDefinition,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs'
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2'
import type { RunContext } from '../core/types.js'
import { AwsTargetError } from './errors.js'
import { type AwsRuntime, waitOptions } from './runtime.js'
import { waitFor } from './waiting.js'

export async function describeService(
  runtime: AwsRuntime,
  cluster: string,
  serviceName: string,
): Promise<Service> {
  const response = await runtime.clients.ecs.send(
    new DescribeServicesCommand({ cluster, services: [serviceName] }),
  )
  const service = response.services?.[0]
  if (!service || service.status === 'INACTIVE') {
    const reason = response.failures?.[0]?.reason ?? 'not found'
    throw new AwsTargetError(`ECS service ${serviceName} in cluster ${cluster}: ${reason}`)
  }
  return service
}

export async function describeTaskDefinition(
  runtime: AwsRuntime,
  taskDefinition: string,
): Promise<{ definition: TaskDefinition; tags: Tag[] }> {
  const response = await runtime.clients.ecs.send(
    new DescribeTaskDefinitionCommand({ taskDefinition, include: ['TAGS'] }),
  )
  if (!response.taskDefinition) throw new AwsTargetError(`task definition ${taskDefinition} not found`)
  return { definition: response.taskDefinition, tags: response.tags ?? [] }
}

export async function registerTaskDefinition(
  runtime: AwsRuntime,
  input: RegisterTaskDefinitionCommandInput,
): Promise<TaskDefinition> {
  const response = await runtime.clients.ecs.send(new RegisterTaskDefinitionCommand(input))
  if (!response.taskDefinition?.taskDefinitionArn) {
    throw new AwsTargetError(`RegisterTaskDefinition for ${input.family} returned no revision`)
  }
  return response.taskDefinition
}

/** `family:revision` for messages. */
export function revisionName(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1)
}

/** ACTIVE revisions of a family, newest first (bounded: a rollback only ever looks a few revisions back). */
export async function listRevisions(runtime: AwsRuntime, family: string, limit = 50): Promise<string[]> {
  const arns: string[] = []
  let nextToken: string | undefined
  do {
    const page = await runtime.clients.ecs.send(
      new ListTaskDefinitionsCommand({ familyPrefix: family, status: 'ACTIVE', sort: 'DESC', nextToken }),
    )
    arns.push(...(page.taskDefinitionArns ?? []).filter((arn) => revisionName(arn).startsWith(`${family}:`)))
    nextToken = page.nextToken
  } while (nextToken && arns.length < limit)
  return arns.slice(0, limit)
}

/** The revision number at the end of a task definition ARN (`…/family:12` → 12). */
export function revisionNumber(arn: string): number {
  return Number(arn.slice(arn.lastIndexOf(':') + 1))
}

export async function deregisterRevision(runtime: AwsRuntime, taskDefinitionArn: string): Promise<void> {
  await runtime.clients.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: taskDefinitionArn }))
}

/** Points the service at a revision; returns the id of the deployment this update created. */
export async function startDeployment(
  runtime: AwsRuntime,
  cluster: string,
  serviceName: string,
  taskDefinitionArn: string,
  /** Replace the tasks even though the revision is unchanged (they re-read their secrets). */
  forceNewDeployment = false,
): Promise<string> {
  const response = await runtime.clients.ecs.send(
    new UpdateServiceCommand({
      cluster,
      service: serviceName,
      taskDefinition: taskDefinitionArn,
      ...(forceNewDeployment ? { forceNewDeployment: true } : {}),
    }),
  )
  const deployment = response.service?.deployments?.find(
    (candidate) => candidate.status === 'PRIMARY' && candidate.taskDefinition === taskDefinitionArn,
  )
  if (!deployment?.id) {
    throw new AwsTargetError(
      `UpdateService ${serviceName} → ${revisionName(taskDefinitionArn)} returned no PRIMARY deployment`,
    )
  }
  return deployment.id
}

export interface StoppedTaskReport {
  taskArn: string
  stoppedReason: string
  containers: string[]
}

export interface DeploymentOutcome {
  state: 'completed' | 'failed'
  deploymentId: string
  reason?: string
  /** ECS's circuit breaker rolled the service back to the previous deployment. */
  rolledBackByCircuitBreaker: boolean
}

/**
 * Follows ONE deployment (by id) until ECS reports it COMPLETED or FAILED, or it disappears because another
 * deployment replaced it. Throws WaitTimeoutError when it stays IN_PROGRESS past the rollout timeout.
 */
export async function followDeployment(
  runtime: AwsRuntime,
  cluster: string,
  serviceName: string,
  deploymentId: string,
  ctx: RunContext,
): Promise<DeploymentOutcome> {
  let lastReport = ''
  return waitFor(
    async (): Promise<DeploymentOutcome | undefined> => {
      const service = await describeService(runtime, cluster, serviceName)
      const deployments = service.deployments ?? []
      const ours = deployments.find((deployment) => deployment.id === deploymentId)
      const primary = deployments.find((deployment) => deployment.status === 'PRIMARY')
      if (!ours) {
        return {
          state: 'failed',
          deploymentId,
          reason: `deployment ${deploymentId} was replaced by ${primary?.id ?? 'another deployment'}`,
          rolledBackByCircuitBreaker: false,
        }
      }
      const report = `${serviceName}: ${ours.rolloutState ?? 'UNKNOWN'} running ${ours.runningCount ?? 0}/${ours.desiredCount ?? 0}, failed tasks ${ours.failedTasks ?? 0}`
      if (report !== lastReport) ctx.log.info(report)
      lastReport = report
      if (ours.rolloutState === 'COMPLETED')
        return { state: 'completed', deploymentId, rolledBackByCircuitBreaker: false }
      if (ours.rolloutState === 'FAILED') {
        const reason = ours.rolloutStateReason ?? 'rollout failed'
        const rolledBack =
          /circuit breaker/i.test(reason) || (primary !== undefined && primary.id !== deploymentId)
        return { state: 'failed', deploymentId, reason, rolledBackByCircuitBreaker: rolledBack }
      }
      return undefined
    },
    waitOptions(
      runtime,
      `deployment ${deploymentId} of ${serviceName}`,
      runtime.timeouts.rolloutTimeoutMs,
      ctx.signal,
      ctx.log,
    ),
  )
}

/** Service events newer than `since`, oldest first, as `time message` lines. */
export function recentEvents(service: Service, since: Date, limit = 15): string[] {
  return (service.events ?? [])
    .filter((event) => !event.createdAt || event.createdAt >= since)
    .slice(0, limit)
    .reverse()
    .map((event) => `${event.createdAt?.toISOString() ?? ''} ${event.message ?? ''}`.trim())
}

function describeStoppedTask(task: Task): StoppedTaskReport {
  return {
    taskArn: task.taskArn ?? '',
    stoppedReason: task.stoppedReason ?? task.stopCode ?? 'unknown',
    containers: (task.containers ?? []).map(
      (container) =>
        `${container.name}: exit ${container.exitCode ?? 'none'}${container.reason ? ` (${container.reason})` : ''}`,
    ),
  }
}

/** Recently stopped tasks of a service (optionally only those of one revision) with their reasons. */
export async function stoppedTasks(
  runtime: AwsRuntime,
  cluster: string,
  serviceName: string,
  taskDefinitionArn?: string,
  limit = 10,
): Promise<StoppedTaskReport[]> {
  const list = await runtime.clients.ecs.send(
    new ListTasksCommand({ cluster, serviceName, desiredStatus: 'STOPPED', maxResults: 100 }),
  )
  const arns = (list.taskArns ?? []).slice(0, 100)
  if (arns.length === 0) return []
  const described = await runtime.clients.ecs.send(new DescribeTasksCommand({ cluster, tasks: arns }))
  return (described.tasks ?? [])
    .filter((task) => !taskDefinitionArn || task.taskDefinitionArn === taskDefinitionArn)
    .sort((a, b) => (b.stoppedAt?.getTime() ?? 0) - (a.stoppedAt?.getTime() ?? 0))
    .slice(0, limit)
    .map(describeStoppedTask)
}

export interface TargetHealthSummary {
  healthy: number
  unhealthy: { id: string; state: string; reason: string }[]
}

export async function targetHealth(
  runtime: AwsRuntime,
  targetGroupArn: string,
): Promise<TargetHealthSummary> {
  const response = await runtime.clients.elbv2.send(
    new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }),
  )
  const summary: TargetHealthSummary = { healthy: 0, unhealthy: [] }
  for (const description of response.TargetHealthDescriptions ?? []) {
    const state = description.TargetHealth?.State ?? 'unknown'
    // Draining targets are the old tasks leaving; they are not part of what serves next.
    if (state === 'draining') continue
    if (state === 'healthy') summary.healthy++
    else
      summary.unhealthy.push({
        id: `${description.Target?.Id ?? '?'}:${description.Target?.Port ?? ''}`,
        state,
        reason: description.TargetHealth?.Description ?? description.TargetHealth?.Reason ?? '',
      })
  }
  return summary
}

/** Waits until the target group has at least one target and every non-draining target is healthy. */
export async function waitForHealthyTargets(
  runtime: AwsRuntime,
  targetGroupArn: string,
  ctx: RunContext,
): Promise<TargetHealthSummary> {
  return waitFor(
    async () => {
      const summary = await targetHealth(runtime, targetGroupArn)
      return summary.healthy > 0 && summary.unhealthy.length === 0 ? summary : undefined
    },
    waitOptions(
      runtime,
      'healthy ALB targets',
      runtime.timeouts.targetsHealthyTimeoutMs,
      ctx.signal,
      ctx.log,
    ),
  )
}
