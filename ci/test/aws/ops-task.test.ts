import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { DescribeTasksCommand, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, describe, expect, it } from 'vitest'
import { opsCommandLine, runOpsTask } from '../../src/aws/ops-task.js'
import { parseStackOutputs } from '../../src/aws/stack-outputs.js'
import {
  arnOf,
  IMAGE_NEW,
  IMAGE_OLD,
  OUTPUTS,
  RAW_OUTPUTS,
  taskDefinition,
  testContext,
  testRuntime,
} from './fixtures.js'
import { scriptedEcs } from './scripted-ecs.js'

const logs = mockClient(CloudWatchLogsClient)
/** Pulumi's revision of the API (the base of every ops task of a deploy). */
const OPS_BASE = arnOf('whatsapp-saas-staging-ops', 3)
const OPS = { ...OUTPUTS, apiTaskDefinitionArn: OPS_BASE }
const TASK_ARN = 'arn:aws:ecs:us-east-1:123456789012:task/whatsapp-saas-staging/0f1e2d3c'

function opsEcs() {
  const ecs = scriptedEcs({
    definitions: [taskDefinition('whatsapp-saas-staging-ops', 3, IMAGE_OLD)],
    services: {},
  })
  ecs.mock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK_ARN }] })
  return ecs
}

function scriptLogs(lines: string[]) {
  // The stream does not exist until the container starts, then returns the lines once.
  logs
    .on(GetLogEventsCommand)
    .rejectsOnce(
      Object.assign(new Error('The specified log stream does not exist.'), {
        name: 'ResourceNotFoundException',
      }),
    )
    .resolvesOnce({ events: lines.map((message) => ({ message })), nextForwardToken: 'f/1' })
    .resolves({ events: [], nextForwardToken: 'f/1' })
}

describe('ops commands as ECS one-off tasks', () => {
  afterEach(() => logs.reset())

  it('runs the command on a revision with the same digest, in private subnets without public IP, and parses the final JSON line', async () => {
    const ecs = opsEcs()
    ecs.mock
      .on(DescribeTasksCommand)
      .resolvesOnce({ tasks: [{ taskArn: TASK_ARN, lastStatus: 'PROVISIONING' }] })
      .resolvesOnce({ tasks: [{ taskArn: TASK_ARN, lastStatus: 'RUNNING' }] })
      .resolves({
        tasks: [{ taskArn: TASK_ARN, lastStatus: 'STOPPED', containers: [{ name: 'api', exitCode: 0 }] }],
      })
    scriptLogs(['backup: dumping', '{"backupId":"20261125T010000Z","sizeBytes":1234}'])
    const ctx = testContext()

    const result = await runOpsTask(testRuntime(), OPS, { name: 'backup' }, IMAGE_NEW, ctx)

    expect(result).toEqual({
      exitCode: 0,
      output: ['backup: dumping', '{"backupId":"20261125T010000Z","sizeBytes":1234}'],
      result: { backupId: '20261125T010000Z', sizeBytes: 1234 },
    })
    expect(ecs.registered.map((input) => input.containerDefinitions?.[0]?.image)).toEqual([IMAGE_NEW])
    const run = ecs.mock.commandCalls(RunTaskCommand)[0]!.args[0].input
    expect(run.taskDefinition).toBe(arnOf('whatsapp-saas-staging-ops', 4))
    expect(run.launchType).toBe('FARGATE')
    expect(run.networkConfiguration?.awsvpcConfiguration).toEqual({
      subnets: ['subnet-0a1', 'subnet-0b2'],
      securityGroups: ['sg-0a5f'],
      assignPublicIp: 'DISABLED',
    })
    expect(run.overrides?.containerOverrides?.[0]?.command).toEqual(['node', 'dist/ops/main.js', 'backup'])
    expect(logs.commandCalls(GetLogEventsCommand)[0]!.args[0].input).toMatchObject({
      logGroupName: '/ecs/whatsapp-saas-staging',
      logStreamName: 'ecs/api/0f1e2d3c',
    })
    expect(ctx.log.lines).toContain('  backup: dumping')
    ecs.mock.restore()
  })

  it("reuses Pulumi's revision when it already runs the digest", async () => {
    const ecs = scriptedEcs({
      definitions: [taskDefinition('whatsapp-saas-staging-ops', 3, IMAGE_NEW)],
      services: {},
    })
    ecs.mock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK_ARN }] })
    ecs.mock.on(DescribeTasksCommand).resolves({
      tasks: [{ taskArn: TASK_ARN, lastStatus: 'STOPPED', containers: [{ name: 'api', exitCode: 0 }] }],
    })
    scriptLogs(['{"applied":[]}'])
    await runOpsTask(testRuntime(), OPS, { name: 'migration-status' }, IMAGE_NEW, testContext())
    expect(ecs.registered).toHaveLength(0)
    ecs.mock.restore()
  })

  it('returns the exit code of a migration that exits 1, with its output', async () => {
    const ecs = opsEcs()
    ecs.mock.on(DescribeTasksCommand).resolves({
      tasks: [
        {
          taskArn: TASK_ARN,
          lastStatus: 'STOPPED',
          stoppedReason: 'Essential container in task exited',
          containers: [{ name: 'api', exitCode: 1 }],
        },
      ],
    })
    scriptLogs([
      'migration 20261120_add_index failed',
      '{"ok":false,"restore":"node dist/ops/main.js restore --backup b1 --force"}',
    ])
    const ctx = testContext()
    const result = await runOpsTask(
      testRuntime(),
      OPS,
      { name: 'migrate', maxBackupAgeMinutes: 30 },
      IMAGE_NEW,
      ctx,
    )

    expect(result.exitCode).toBe(1)
    expect(result.result).toEqual({ ok: false, restore: 'node dist/ops/main.js restore --backup b1 --force' })
    expect(ctx.log.lines.some((line) => line.startsWith('WARN migrate task 0f1e2d3c exited 1'))).toBe(true)
    expect(
      ecs.mock.commandCalls(RunTaskCommand)[0]!.args[0].input.overrides?.containerOverrides?.[0]?.command,
    ).toEqual(['node', 'dist/ops/main.js', 'migrate', '--max-backup-age', '30'])
    ecs.mock.restore()
  })

  it('surfaces the stop reason of a task that never starts', async () => {
    const ecs = opsEcs()
    ecs.mock.on(DescribeTasksCommand).resolves({
      tasks: [
        {
          taskArn: TASK_ARN,
          lastStatus: 'STOPPED',
          stopCode: 'TaskFailedToStart',
          stoppedReason:
            'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref',
          containers: [{ name: 'api' }],
        },
      ],
    })
    scriptLogs([])
    await expect(
      runOpsTask(testRuntime(), OPS, { name: 'backup' }, IMAGE_NEW, testContext()),
    ).rejects.toThrow(/backup task 0f1e2d3c never ran: CannotPullContainerError/)
    ecs.mock.restore()
  })

  it('stops a task that runs past the timeout and says so', async () => {
    const ecs = opsEcs()
    ecs.mock.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: TASK_ARN, lastStatus: 'RUNNING' }] })
    ecs.mock.on(StopTaskCommand).resolves({})
    scriptLogs([])
    await expect(
      runOpsTask(testRuntime({ taskTimeoutMs: 20_000 }), OPS, { name: 'backup' }, IMAGE_NEW, testContext()),
    ).rejects.toThrow(/timed out after 20 s waiting for backup task 0f1e2d3c; task 0f1e2d3c was stopped/)
    expect(ecs.mock.commandCalls(StopTaskCommand)).toHaveLength(1)
    ecs.mock.restore()
  })

  it('reports RunTask failures (capacity, subnets) as one clear error', async () => {
    const ecs = opsEcs()
    ecs.mock
      .on(RunTaskCommand)
      .resolves({ tasks: [], failures: [{ reason: 'RESOURCE:ENI', detail: 'subnet exhausted' }] })
    await expect(runOpsTask(testRuntime(), OPS, { name: 'seed' }, IMAGE_NEW, testContext())).rejects.toThrow(
      'RunTask for seed started nothing: RESOURCE:ENI (subnet exhausted)',
    )
    ecs.mock.restore()
  })

  it('runs like the services when the stack puts tasks in public subnets (egress mode public-task-ips)', async () => {
    const ecs = opsEcs()
    ecs.mock.on(DescribeTasksCommand).resolves({
      tasks: [{ taskArn: TASK_ARN, lastStatus: 'STOPPED', containers: [{ name: 'api', exitCode: 0 }] }],
    })
    scriptLogs(['{"ok":true}'])
    const outputs = parseStackOutputs({
      ...RAW_OUTPUTS,
      apiTaskDefinitionArn: OPS_BASE,
      taskSubnetIds: 'subnet-0c3,subnet-0d4',
      taskAssignPublicIp: 'ENABLED',
    })
    await runOpsTask(testRuntime(), outputs, { name: 'seed' }, IMAGE_NEW, testContext())
    expect(
      ecs.mock.commandCalls(RunTaskCommand)[0]!.args[0].input.networkConfiguration?.awsvpcConfiguration,
    ).toEqual({
      subnets: ['subnet-0c3', 'subnet-0d4'],
      securityGroups: ['sg-0a5f'],
      assignPublicIp: 'ENABLED',
    })
    ecs.mock.restore()
  })

  it('maps each ops command to its command line', () => {
    expect(opsCommandLine({ name: 'verify-backup', backupId: 'b1' })).toEqual([
      'node',
      'dist/ops/main.js',
      'verify-backup',
      '--backup',
      'b1',
    ])
    expect(opsCommandLine({ name: 'restore', backupId: 'b1', force: true }).slice(2)).toEqual([
      'restore',
      '--backup',
      'b1',
      '--force',
    ])
  })

  it('passes an approved destructive migration on to the image, as the local target does', () => {
    const migrate = { name: 'migrate', maxBackupAgeMinutes: 30 } as const
    expect(opsCommandLine({ ...migrate, allowDestructive: true }).slice(2)).toEqual([
      'migrate',
      '--max-backup-age',
      '30',
      '--allow-destructive',
    ])
    expect(opsCommandLine(migrate)).not.toContain('--allow-destructive')
  })
})
