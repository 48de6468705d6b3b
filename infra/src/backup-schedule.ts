// Daily logical backup: EventBridge Scheduler starts a one-off ECS task from the API's task family
// with the image's backup command. The family ARN has no revision on purpose: the task then runs the
// latest revision, i.e. the image the pipeline rolled out last, not the one Pulumi first registered.
import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import { API_CONTAINER, OPS_COMMAND_PREFIX } from './compute.js'
import type { StackConfig } from './config.js'

export const BACKUP_COMMAND = [...OPS_COMMAND_PREFIX, 'backup']

export function createBackupSchedule(
  config: StackConfig,
  args: {
    accountId: pulumi.Input<string>
    clusterArn: pulumi.Input<string>
    taskFamily: string
    executionRoleArn: pulumi.Input<string>
    taskRoleArn: pulumi.Input<string>
    subnetIds: pulumi.Input<string>[]
    securityGroupId: pulumi.Input<string>
    assignPublicIp: boolean
  },
): aws.scheduler.Schedule {
  const p = config.namePrefix
  const familyArn = pulumi.interpolate`arn:aws:ecs:${config.region}:${args.accountId}:task-definition/${args.taskFamily}`

  const role = new aws.iam.Role(`${p}-backup-scheduler-role`, {
    description: 'EventBridge Scheduler: start the daily backup task',
    assumeRolePolicy: pulumi.jsonStringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'aws:SourceAccount': args.accountId } },
        },
      ],
    }),
    tags: config.tags,
  })
  new aws.iam.RolePolicy(`${p}-backup-scheduler-policy`, {
    role: role.id,
    policy: pulumi.jsonStringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'ecs:RunTask',
          Resource: [familyArn, pulumi.interpolate`${familyArn}:*`],
          Condition: { ArnEquals: { 'ecs:cluster': args.clusterArn } },
        },
        {
          Effect: 'Allow',
          Action: 'ecs:TagResource',
          Resource: '*',
          Condition: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
        },
        { Effect: 'Allow', Action: 'iam:PassRole', Resource: [args.executionRoleArn, args.taskRoleArn] },
      ],
    }),
  })

  return new aws.scheduler.Schedule(`${p}-daily-backup`, {
    name: `${p}-daily-backup`,
    description: 'Daily logical backup of PostgreSQL to the backup bucket',
    scheduleExpression: config.backup.scheduleCron,
    scheduleExpressionTimezone: 'UTC',
    flexibleTimeWindow: { mode: 'OFF' },
    state: 'ENABLED',
    target: {
      arn: args.clusterArn,
      roleArn: role.arn,
      retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 3600 },
      ecsParameters: {
        taskDefinitionArn: familyArn,
        launchType: 'FARGATE',
        platformVersion: 'LATEST',
        taskCount: 1,
        networkConfiguration: {
          subnets: args.subnetIds,
          securityGroups: [args.securityGroupId],
          assignPublicIp: args.assignPublicIp,
        },
        propagateTags: 'TASK_DEFINITION',
        tags: { Purpose: 'backup' },
      },
      input: JSON.stringify({ containerOverrides: [{ name: API_CONTAINER, command: BACKUP_COMMAND }] }),
    },
  })
}
