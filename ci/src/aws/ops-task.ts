// The image's ops commands (backup, migrate, restore, ...) run as ECS one-off Fargate tasks inside the VPC,
// next to the private database, with the same image digest as the rollout and the task role of the family.
import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import {
  DescribeTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
  type TaskDefinition,
} from '@aws-sdk/client-ecs'
import { lastJsonLine, opsArguments } from '../core/ops-command-line.js'
import type { OpsCommand, OpsResult, RunContext } from '../core/types.js'
import { registerTaskDefinition, revisionName } from './ecs-services.js'
import { AwsTargetError, isNotFoundError, WaitTimeoutError } from './errors.js'
import { revisionForImage } from './rollout.js'
import { type AwsRuntime, waitOptions } from './runtime.js'
import type { StackOutputs } from './stack-outputs.js'
import { serviceContainers } from './task-definition.js'
import { WaitAbortedError, waitFor } from './waiting.js'

/** The command line of an ops command inside the image. */
export function opsCommandLine(command: OpsCommand): string[] {
  return ['node', 'dist/ops/main.js', ...opsArguments(command)]
}

/** Follows one awslogs stream, handing each new line to `onLine`. */
class LogStreamFollower {
  private nextToken: string | undefined
  constructor(
    private readonly runtime: AwsRuntime,
    private readonly group: string,
    private readonly stream: string,
    private readonly onLine: (line: string) => void,
  ) {}

  async drain(): Promise<void> {
    // Bounded: a task prints far fewer than 100 pages between two polls.
    for (let page = 0; page < 100; page++) {
      let response: Awaited<ReturnType<typeof this.fetch>>
      try {
        response = await this.fetch()
      } catch (error) {
        if (isNotFoundError(error)) return // the stream appears once the container starts
        throw error
      }
      for (const event of response.events ?? [])
        if (event.message !== undefined) this.onLine(event.message.trimEnd())
      const done = response.nextForwardToken === undefined || response.nextForwardToken === this.nextToken
      this.nextToken = response.nextForwardToken
      if (done || (response.events ?? []).length === 0) return
    }
  }

  private fetch() {
    return this.runtime.clients.logs.send(
      new GetLogEventsCommand({
        logGroupName: this.group,
        logStreamName: this.stream,
        startFromHead: true,
        nextToken: this.nextToken,
      }),
    )
  }
}

/**
 * The revision an ops task runs: `baseArn` (the service's serving revision for operator verbs, Pulumi's
 * revision for the pipeline's backup and migrate) when it already runs `image`, else a copy of it with only
 * the image changed. Never "the family's latest", which may be anything the last registration left.
 */
async function revisionFor(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  image: string,
  baseArn: string,
  ctx: RunContext,
): Promise<{ arn: string; definition: TaskDefinition } | undefined> {
  const next = await revisionForImage(runtime, outputs, baseArn, image)
  if (next.reusesBase) return { arn: baseArn, definition: next.base }
  if (ctx.dryRun) return undefined
  const registered = await registerTaskDefinition(runtime, next.input)
  ctx.log.info(`registered ${revisionName(registered.taskDefinitionArn!)} for ${image}`)
  return { arn: registered.taskDefinitionArn!, definition: registered }
}

function taskId(taskArn: string): string {
  return taskArn.slice(taskArn.lastIndexOf('/') + 1)
}

function stopDetails(task: Task, containerName: string): string {
  const container = task.containers?.find((candidate) => candidate.name === containerName)
  return (
    [task.stoppedReason ?? task.stopCode, container?.reason].filter(Boolean).join('; ') || 'no reason given'
  )
}

/**
 * Runs one ops command as a one-off task, streams its log lines into ctx.log, waits (bounded) until it
 * STOPPED, and returns the container's exit code with its parsed final JSON line. A task whose container
 * never ran is an error carrying ECS's stop reason.
 */
export async function runOpsTask(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  command: OpsCommand,
  image: string,
  ctx: RunContext,
  /** The revision to run (or copy with `image`): default Pulumi's revision of the API. */
  baseArn: string = outputs.apiTaskDefinitionArn,
  /** Revisions registered earlier in this run, by `<base> <image>`: one registration serves every ops task. */
  registered: Map<string, string> = new Map(),
): Promise<OpsResult> {
  const key = `${baseArn} ${image}`
  const revision = await revisionFor(runtime, outputs, image, registered.get(key) ?? baseArn, ctx)
  if (revision) registered.set(key, revision.arn)
  if (!revision) {
    const note = `dry-run: ${command.name} would run as a one-off task of ${outputs.taskFamily} with ${image}`
    ctx.log.info(note)
    return { exitCode: 0, output: [note], result: { dryRun: true, command: command.name } }
  }
  const container = serviceContainers(revision.definition, outputs.ecrRepositoryUrl)[0]!
  const containerName = container.name!
  // Same network placement as the services' tasks: private subnets without public IP unless the stack's
  // egress mode puts tasks in public subnets (then ECR is only reachable through the public IP).
  const subnets = outputs.taskSubnetIds ?? outputs.privateSubnetIds
  const assignPublicIp = outputs.taskAssignPublicIp ?? 'DISABLED'
  const started = await runtime.clients.ecs.send(
    new RunTaskCommand({
      cluster: outputs.clusterName,
      taskDefinition: revision.arn,
      launchType: 'FARGATE',
      count: 1,
      startedBy: `pipeline-${ctx.runId}`.slice(0, 128),
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets,
          securityGroups: [outputs.taskSecurityGroupId],
          assignPublicIp,
        },
      },
      overrides: {
        containerOverrides: [
          {
            name: containerName,
            command: opsCommandLine(command),
            // Where backups go is stack data, not a secret; the credentials come from the task role.
            environment: [
              { name: 'BACKUP_STORE', value: outputs.backupStore },
              { name: 'BACKUP_KMS_KEY_ID', value: outputs.backupKmsKeyArn },
              { name: 'AWS_REGION', value: outputs.region },
            ],
          },
        ],
      },
    }),
  )
  const taskArn = started.tasks?.[0]?.taskArn
  if (!taskArn) {
    const failure = started.failures?.[0]
    throw new AwsTargetError(
      `RunTask for ${command.name} started nothing: ${failure?.reason ?? 'no task'}${failure?.detail ? ` (${failure.detail})` : ''}`,
    )
  }
  const id = taskId(taskArn)
  if (assignPublicIp === 'ENABLED')
    ctx.log.info('tasks run with public IPs (egress mode public-task-ips), like the services')
  ctx.log.info(`${command.name}: task ${id} on ${revisionName(revision.arn)}`)

  const output: string[] = []
  const logOptions = container.logConfiguration?.options ?? {}
  const group = logOptions['awslogs-group'] ?? outputs.logGroupName
  const prefix = logOptions['awslogs-stream-prefix']
  const follower = prefix
    ? new LogStreamFollower(runtime, group, `${prefix}/${containerName}/${id}`, (line) => {
        output.push(line)
        ctx.log.info(`  ${line}`)
      })
    : undefined
  if (!follower)
    ctx.log.warn(`container ${containerName} has no awslogs-stream-prefix: its log lines cannot be followed`)

  let stopped: Task
  try {
    stopped = await waitFor(
      async () => {
        await follower?.drain()
        const described = await runtime.clients.ecs.send(
          new DescribeTasksCommand({ cluster: outputs.clusterName, tasks: [taskArn] }),
        )
        const task = described.tasks?.[0]
        return task?.lastStatus === 'STOPPED' ? task : undefined
      },
      waitOptions(runtime, `${command.name} task ${id}`, runtime.timeouts.taskTimeoutMs, ctx.signal, ctx.log),
    )
  } catch (error) {
    if (error instanceof WaitTimeoutError) {
      await runtime.clients.ecs.send(
        new StopTaskCommand({ cluster: outputs.clusterName, task: taskArn, reason: 'pipeline timeout' }),
      )
      throw new AwsTargetError(`${error.message}; task ${id} was stopped`)
    }
    if (error instanceof WaitAbortedError) {
      throw new AwsTargetError(
        `interrupted: ${command.name} task ${id} (${revisionName(revision.arn)}) keeps running in cluster ${outputs.clusterName}`,
      )
    }
    throw error
  }
  await follower?.drain()

  const exitCode = stopped.containers?.find((candidate) => candidate.name === containerName)?.exitCode
  if (exitCode === undefined) {
    throw new AwsTargetError(`${command.name} task ${id} never ran: ${stopDetails(stopped, containerName)}`)
  }
  if (exitCode !== 0)
    ctx.log.warn(`${command.name} task ${id} exited ${exitCode}: ${stopDetails(stopped, containerName)}`)
  return { exitCode, output, result: lastJsonLine(output) }
}
