// `diagnose`: what is wrong with a deployed stack right now — stopped tasks, recent service events,
// unhealthy targets, alarms in ALARM, database connections — each with its likely cause and the command
// of this repository to run next.
import { DescribeAlarmsCommand, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch'
import { describeService, stoppedTasks, targetHealth } from './ecs-services.js'
import { describeAwsError, isCredentialsError } from './errors.js'
import type { AwsRuntime } from './runtime.js'
import type { StackOutputs } from './stack-outputs.js'

export interface Finding {
  severity: 'error' | 'warning' | 'info'
  what: string
  cause: string
  next: string
}

export function commands(stack: string) {
  const cli = 'npx tsx ci/src/cli/main.ts'
  return {
    verify: `${cli} verify --target aws --stack ${stack}`,
    rollback: `${cli} rollback --target aws --stack ${stack}`,
    redeploy: `npm run deploy -- --target aws --stack ${stack}`,
    preview: `npm run deploy -- --target aws --stack ${stack} --dry-run`,
    costs: `${cli} costs --target aws --stack ${stack} --recommend`,
    backup: `${cli} backup --target aws --stack ${stack} --snapshot`,
  }
}

/** Likely cause and next command for a stopped task's reason. */
export function explainStoppedTask(
  reason: string,
  containers: string[],
  stack: string,
): Omit<Finding, 'what'> | undefined {
  const next = commands(stack)
  const text = `${reason} ${containers.join(' ')}`
  if (
    /Scaling activity initiated by|deployment ecs-svc|ServiceSchedulerInitiated|stopped by user/i.test(
      reason,
    ) &&
    !/exit [1-9]/.test(text)
  ) {
    return undefined
  }
  if (/ResourceInitializationError|secret|ssm|unable to retrieve/i.test(text)) {
    return {
      severity: 'error',
      cause:
        'the execution role cannot read a secret, or Secrets Manager/CloudWatch Logs is unreachable from the private subnets',
      next: next.preview,
    }
  }
  if (/CannotPullContainer|pull image manifest/i.test(text) || /\bECR\b/.test(text)) {
    return {
      severity: 'error',
      cause:
        'the task cannot pull its image: ECR unreachable from the private subnets (NAT gateway or VPC endpoints) or the digest is missing',
      next: next.verify,
    }
  }
  if (/OutOfMemory|exit 137/i.test(text)) {
    return { severity: 'error', cause: 'the container was killed for exceeding its memory', next: next.costs }
  }
  if (/ELB health checks|health check/i.test(text)) {
    return {
      severity: 'error',
      cause:
        'the task never answered /health: database or Redis unreachable, wrong secrets, or a slow start past the grace period',
      next: next.rollback,
    }
  }
  if (/exit [1-9]/.test(text)) {
    return {
      severity: 'error',
      cause:
        'the process exited at start: configuration error or a schema the code does not expect (migrations)',
      next: next.rollback,
    }
  }
  return {
    severity: 'warning',
    cause: 'unusual stop; read the task log lines in CloudWatch',
    next: next.verify,
  }
}

const EVENT_PATTERNS: [RegExp, string, keyof ReturnType<typeof commands>][] = [
  [
    /unable to place a task|insufficient/i,
    'no capacity or subnets without free addresses for Fargate tasks',
    'verify',
  ],
  [
    /circuit breaker|deployment failed|rolling back/i,
    'the last deployment failed and ECS rolled it back',
    'rollback',
  ],
  [
    /is unhealthy in target-group|failed .*health checks/i,
    'tasks fail the ALB health check on /health',
    'rollback',
  ],
  [/unable to assume role|AccessDenied/i, 'an IAM role or policy is missing', 'preview'],
]

const ALARM_CAUSES: Record<string, [string, keyof ReturnType<typeof commands>]> = {
  CPUUtilization: ['the database CPU is saturated (slow queries or too small a class)', 'costs'],
  DatabaseConnections: ['the connection pools exceed what the database allows', 'verify'],
  DatabaseMemoryUsagePercentage: ['Redis is nearly full (a queue backlog or keys without TTL)', 'verify'],
  HTTPCode_Target_5XX_Count: ['the service answers 5XX: the new version or a dependency fails', 'rollback'],
  RunningTaskCount: ['fewer tasks run than the service needs', 'rollback'],
  UnHealthyHostCount: ['ALB targets fail their health checks', 'rollback'],
}

export async function diagnoseStack(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  stack: string,
): Promise<Finding[]> {
  const findings: Finding[] = []
  const next = commands(stack)
  const since = new Date(runtime.clock.now() - 60 * 60_000)
  const attempt = async (area: string, body: () => Promise<void>) => {
    try {
      await body()
    } catch (error) {
      if (isCredentialsError(error)) throw error
      findings.push({
        severity: 'warning',
        what: `${area}: could not be read`,
        cause: describeAwsError(error),
        next: next.verify,
      })
    }
  }

  for (const serviceName of [outputs.apiServiceName, outputs.workerServiceName]) {
    await attempt(`service ${serviceName}`, async () => {
      for (const task of await stoppedTasks(runtime, outputs.clusterName, serviceName)) {
        const explained = explainStoppedTask(task.stoppedReason, task.containers, stack)
        if (!explained) continue
        findings.push({
          ...explained,
          what: `${serviceName} task ${task.taskArn.slice(task.taskArn.lastIndexOf('/') + 1)} stopped: ${task.stoppedReason}${task.containers.length > 0 ? ` (${task.containers.join('; ')})` : ''}`,
        })
      }
      const service = await describeService(runtime, outputs.clusterName, serviceName)
      if ((service.runningCount ?? 0) < (service.desiredCount ?? 0)) {
        findings.push({
          severity: 'error',
          what: `${serviceName} runs ${service.runningCount}/${service.desiredCount} tasks`,
          cause: 'tasks fail to start or keep stopping (see the stopped tasks above)',
          next: next.rollback,
        })
      }
      for (const event of (service.events ?? [])
        .filter((item) => !item.createdAt || item.createdAt >= since)
        .slice(0, 20)) {
        const match = EVENT_PATTERNS.find(([pattern]) => pattern.test(event.message ?? ''))
        if (match) {
          findings.push({
            severity: 'warning',
            what: `${serviceName} event: ${event.message}`,
            cause: match[1],
            next: next[match[2]],
          })
        }
      }
    })
  }

  await attempt('target group', async () => {
    const health = await targetHealth(runtime, outputs.targetGroupArn)
    for (const target of health.unhealthy) {
      const cause = /ResponseCodeMismatch|mismatch/i.test(target.reason)
        ? '/health answers non-200: the database or Redis is unreachable from the task'
        : /Timeout|timed out/i.test(target.reason)
          ? '/health does not answer in time: security group between ALB and tasks, or an overloaded task'
          : 'the target fails its health checks'
      findings.push({
        severity: 'error',
        what: `target ${target.id} ${target.state}${target.reason ? `: ${target.reason}` : ''}`,
        cause,
        next: /Timeout/i.test(target.reason) ? next.verify : next.rollback,
      })
    }
    if (health.healthy === 0) {
      findings.push({
        severity: 'error',
        what: 'no healthy ALB target',
        cause: 'the site is down',
        next: next.rollback,
      })
    }
  })

  await attempt('alarms', async () => {
    const { MetricAlarms: alarms = [] } = await runtime.clients.cloudwatch.send(
      new DescribeAlarmsCommand({ StateValue: 'ALARM', MaxRecords: 100 }),
    )
    for (const alarm of alarms.filter((item) => (item.AlarmActions ?? []).includes(outputs.alertTopicArn))) {
      const [cause, command] = ALARM_CAUSES[alarm.MetricName ?? ''] ?? ['see the alarm reason', 'verify']
      findings.push({
        severity: 'error',
        what: `alarm ${alarm.AlarmName} in ALARM since ${alarm.StateUpdatedTimestamp?.toISOString() ?? '?'}: ${alarm.StateReason ?? ''}`,
        cause,
        next: next[command],
      })
    }
  })

  await attempt('database connections', async () => {
    const now = new Date(runtime.clock.now())
    const { Datapoints: points = [] } = await runtime.clients.cloudwatch.send(
      new GetMetricStatisticsCommand({
        Namespace: 'AWS/RDS',
        MetricName: 'DatabaseConnections',
        Dimensions: [{ Name: 'DBInstanceIdentifier', Value: outputs.dbInstanceId }],
        StartTime: new Date(now.getTime() - 15 * 60_000),
        EndTime: now,
        Period: 300,
        Statistics: ['Maximum'],
      }),
    )
    const peak = Math.max(0, ...points.map((point) => point.Maximum ?? 0))
    // The stack's own limit (parameter group or the class's default), the one its connection budget and
    // its rds-connections-high alarm (80 %) use.
    const limit = outputs.databaseMaxConnections
    const share = peak / limit
    findings.push({
      severity: share >= 0.8 ? 'error' : 'info',
      what: `RDS connections peaked at ${peak} of ${limit} (max_connections) in the last 15 min`,
      cause:
        share >= 0.8
          ? 'pools of all tasks together near max_connections: reduce the pool size or the task count'
          : 'within limits',
      next: share >= 0.8 ? next.verify : '-',
    })
  })
  return findings
}

export function renderFindings(stack: string, findings: Finding[]): string {
  const problems = findings.filter((finding) => finding.severity !== 'info')
  const lines = [
    `diagnose ${stack}: ${problems.length === 0 ? 'nothing wrong found' : `${problems.length} finding(s)`}`,
  ]
  for (const finding of findings) {
    const mark = finding.severity === 'error' ? '✗' : finding.severity === 'warning' ? '!' : '✓'
    lines.push(`  ${mark} ${finding.what}`)
    if (finding.severity !== 'info') {
      lines.push(`      likely cause: ${finding.cause}`)
      lines.push(`      next: ${finding.next}`)
    }
  }
  return lines.join('\n')
}
