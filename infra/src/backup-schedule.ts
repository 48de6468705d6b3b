// Daily logical backup: EventBridge Scheduler starts a one-off ECS task from the API's task family
// with the image's backup command, verified right after the dump (`backup --verify` restores it into a
// scratch database); a run that fails, or never starts, raises an alert on the SNS topic. The family ARN has no revision on purpose: the task then runs the
// latest revision, i.e. the image the pipeline rolled out last, not the one Pulumi first registered.
import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import { API_CONTAINER, OPS_COMMAND_PREFIX } from './compute.js'
import { Concern } from './concern.js'
import type { StackConfig } from './config.js'

export const BACKUP_COMMAND = [...OPS_COMMAND_PREFIX, 'backup', '--verify']

/** ECS task group of the scheduled backup: what the failure rule matches on (`detail.group`). */
export const backupTaskGroup = (config: StackConfig) => `${config.namePrefix}-scheduled-backup`

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
    boundaryArn: pulumi.Input<string>
  },
): aws.scheduler.Schedule {
  const concern = new Concern('BackupSchedule', config)
  const p = config.namePrefix
  const familyArn = pulumi.interpolate`arn:aws:ecs:${config.region}:${args.accountId}:task-definition/${args.taskFamily}`

  const role = new aws.iam.Role(
    `${p}-backup-scheduler-role`,
    {
      description: 'EventBridge Scheduler: start the daily backup task',
      permissionsBoundary: args.boundaryArn,
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
    },
    concern.child(),
  )
  new aws.iam.RolePolicy(
    `${p}-backup-scheduler-policy`,
    {
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
    },
    concern.child(),
  )

  return new aws.scheduler.Schedule(
    `${p}-daily-backup`,
    {
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
          group: backupTaskGroup(config),
        },
        input: JSON.stringify({ containerOverrides: [{ name: API_CONTAINER, command: BACKUP_COMMAND }] }),
      },
    },
    concern.child(),
  )
}

/**
 * Alerts of the scheduled backup, on the stack's SNS topic:
 * - an EventBridge rule on ECS Task State Change: the backup task (by its group) stopped with a non-zero
 *   exit code of the ops container (dump or verification failed), or never started (image pull, secrets);
 * - an alarm on EventBridge Scheduler dropping the invocation after its retries (RunTask refused).
 */
export function createBackupAlerts(
  config: StackConfig,
  args: {
    accountId: pulumi.Input<string>
    clusterArn: pulumi.Input<string>
    topic: aws.sns.Topic
  },
): { rule: aws.cloudwatch.EventRule; alarm: aws.cloudwatch.MetricAlarm } {
  const concern = new Concern('BackupAlerts', config)
  const p = config.namePrefix
  const rule = new aws.cloudwatch.EventRule(
    `${p}-backup-failed`,
    {
      name: `${p}-backup-failed`,
      description: 'The scheduled backup (dump + verification) failed or did not start',
      eventPattern: pulumi.jsonStringify({
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: {
          clusterArn: [args.clusterArn],
          group: [backupTaskGroup(config)],
          lastStatus: ['STOPPED'],
          $or: [
            { containers: { name: [API_CONTAINER], exitCode: [{ 'anything-but': 0 }] } },
            { stopCode: ['TaskFailedToStart'] },
          ],
        },
      }),
      tags: config.tags,
    },
    concern.child(),
  )
  new aws.cloudwatch.EventTarget(
    `${p}-backup-failed-alert`,
    {
      rule: rule.name,
      arn: args.topic.arn,
      inputTransformer: {
        inputPaths: {
          task: '$.detail.taskArn',
          reason: '$.detail.stoppedReason',
          exitCode: '$.detail.containers[0].exitCode',
        },
        inputTemplate: `"${p}: the scheduled backup failed (exit code <exitCode>, <reason>), task <task>. Its last log line is the ops JSON result; the log group is /ecs/${p}."`,
      },
    },
    concern.child(),
  )
  // EventBridge publishes with its service principal: the topic must allow it, for this rule only. The
  // first statement keeps what the default topic policy grants the account's own principals and alarms.
  new aws.sns.TopicPolicy(
    `${p}-alerts-policy`,
    {
      arn: args.topic.arn,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'AccountOwner',
            Effect: 'Allow',
            Principal: { AWS: '*' },
            Action: [
              'SNS:GetTopicAttributes',
              'SNS:SetTopicAttributes',
              'SNS:AddPermission',
              'SNS:RemovePermission',
              'SNS:DeleteTopic',
              'SNS:Subscribe',
              'SNS:ListSubscriptionsByTopic',
              'SNS:Publish',
            ],
            Resource: args.topic.arn,
            Condition: { StringEquals: { 'AWS:SourceOwner': args.accountId } },
          },
          {
            Sid: 'BackupFailureRule',
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: args.topic.arn,
            Condition: { ArnEquals: { 'aws:SourceArn': rule.arn } },
          },
        ],
      }),
    },
    concern.child(),
  )
  const alarm = new aws.cloudwatch.MetricAlarm(
    `${p}-backup-schedule-dropped`,
    {
      name: `${p}-backup-schedule-dropped`,
      alarmDescription:
        'EventBridge Scheduler gave up starting the scheduled backup task (after its retries)',
      namespace: 'AWS/Scheduler',
      metricName: 'InvocationDroppedCount',
      dimensions: { ScheduleGroup: 'default' },
      statistic: 'Sum',
      period: 300,
      evaluationPeriods: 1,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 0,
      treatMissingData: 'notBreaching',
      alarmActions: [args.topic.arn],
      okActions: [args.topic.arn],
      tags: config.tags,
    },
    concern.child(),
  )
  return { rule, alarm }
}
