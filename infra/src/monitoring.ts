// Alerts (SNS → e-mail), alarms on what breaks users first, a main and a cost dashboard, and saved
// Logs Insights queries for the three questions asked during an incident.
import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import { Concern } from './concern.js'
import { type StackConfig, stackMaxConnections } from './config.js'

/** Thresholds in one place: tests and the README read them from here. */
export const ALARM_THRESHOLDS = {
  rdsCpuPercent: 80,
  rdsCpuMinutes: 10,
  /** Share of max_connections (the pools are budgeted to stay under 90 %: config.ts). */
  rdsConnectionsPercent: 80,
  redisMemoryPercent: 90,
  alb5xxPerMinute: 10,
  minRunningApiTasks: 2,
  unhealthyTargets: 0,
} as const

export interface Monitoring {
  topic: aws.sns.Topic
  alarms: aws.cloudwatch.MetricAlarm[]
}

export function createMonitoring(
  config: StackConfig,
  args: {
    dbInstanceId: pulumi.Input<string>
    cacheMemberClusterIds: string[]
    albArnSuffix: pulumi.Input<string>
    targetGroupArnSuffix: pulumi.Input<string>
    clusterName: pulumi.Input<string>
    apiServiceName: pulumi.Input<string>
    workerServiceName: pulumi.Input<string>
    logGroupName: pulumi.Input<string>
  },
): Monitoring {
  const concern = new Concern('Monitoring', config)
  const p = config.namePrefix
  const t = ALARM_THRESHOLDS
  // parseStackConfig has refused a stack whose max_connections is unknown.
  const maxConnections = stackMaxConnections(config)!.value
  const rdsConnections = Math.floor((maxConnections * t.rdsConnectionsPercent) / 100)
  const topic = new aws.sns.Topic(`${p}-alerts`, { name: `${p}-alerts`, tags: config.tags }, concern.child())
  new aws.sns.TopicSubscription(
    `${p}-alerts-email`,
    {
      topic: topic.arn,
      protocol: 'email',
      endpoint: config.alertEmail,
    },
    concern.child(),
  )

  const alarm = (name: string, args: Omit<aws.cloudwatch.MetricAlarmArgs, 'alarmActions' | 'okActions'>) =>
    new aws.cloudwatch.MetricAlarm(
      `${p}-${name}`,
      {
        name: `${p}-${name}`,
        alarmActions: [topic.arn],
        okActions: [topic.arn],
        tags: config.tags,
        ...args,
      },
      concern.child(),
    )

  const alarms = [
    alarm('rds-cpu-high', {
      alarmDescription: `RDS CPU above ${t.rdsCpuPercent}% for ${t.rdsCpuMinutes} minutes`,
      namespace: 'AWS/RDS',
      metricName: 'CPUUtilization',
      dimensions: { DBInstanceIdentifier: args.dbInstanceId },
      statistic: 'Average',
      period: 300,
      evaluationPeriods: t.rdsCpuMinutes / 5,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: t.rdsCpuPercent,
      treatMissingData: 'missing',
    }),
    alarm('rds-connections-high', {
      alarmDescription: `More than ${rdsConnections} PostgreSQL connections (${t.rdsConnectionsPercent} % of max_connections ${maxConnections})`,
      namespace: 'AWS/RDS',
      metricName: 'DatabaseConnections',
      dimensions: { DBInstanceIdentifier: args.dbInstanceId },
      statistic: 'Maximum',
      period: 60,
      evaluationPeriods: 3,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: rdsConnections,
      treatMissingData: 'missing',
    }),
    // ElastiCache reports memory per node: one alarm per member of the replication group.
    ...args.cacheMemberClusterIds.map((clusterId, i) =>
      alarm(`redis-memory-high-${i + 1}`, {
        alarmDescription: `Redis node ${clusterId} memory above ${t.redisMemoryPercent}%`,
        namespace: 'AWS/ElastiCache',
        metricName: 'DatabaseMemoryUsagePercentage',
        dimensions: { CacheClusterId: clusterId },
        statistic: 'Maximum',
        period: 300,
        evaluationPeriods: 1,
        comparisonOperator: 'GreaterThanThreshold',
        threshold: t.redisMemoryPercent,
        treatMissingData: 'missing',
      }),
    ),
    // 5XX from the ALB itself (no healthy target, timeouts) and from the targets, summed per minute.
    alarm('alb-5xx-high', {
      alarmDescription: `More than ${t.alb5xxPerMinute} HTTP 5XX per minute (load balancer + targets)`,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: t.alb5xxPerMinute,
      evaluationPeriods: 1,
      treatMissingData: 'notBreaching',
      metricQueries: [
        {
          id: 'total',
          expression: 'FILL(elb, 0) + FILL(target, 0)',
          label: '5XX per minute',
          returnData: true,
        },
        ...(['elb', 'target'] as const).map((id) => ({
          id,
          metric: {
            namespace: 'AWS/ApplicationELB',
            metricName: id === 'elb' ? 'HTTPCode_ELB_5XX_Count' : 'HTTPCode_Target_5XX_Count',
            dimensions: { LoadBalancer: args.albArnSuffix },
            stat: 'Sum',
            period: 60,
          },
        })),
      ],
    }),
    alarm('ecs-api-running-tasks-low', {
      alarmDescription: `Fewer than ${t.minRunningApiTasks} API tasks running`,
      namespace: 'ECS/ContainerInsights',
      metricName: 'RunningTaskCount',
      dimensions: { ClusterName: args.clusterName, ServiceName: args.apiServiceName },
      statistic: 'Minimum',
      period: 60,
      evaluationPeriods: 3,
      comparisonOperator: 'LessThanThreshold',
      threshold: t.minRunningApiTasks,
      treatMissingData: 'breaching',
    }),
    alarm('ecs-worker-running-tasks-low', {
      alarmDescription: `Fewer than ${config.worker.desiredCount} worker tasks running`,
      namespace: 'ECS/ContainerInsights',
      metricName: 'RunningTaskCount',
      dimensions: { ClusterName: args.clusterName, ServiceName: args.workerServiceName },
      statistic: 'Minimum',
      period: 60,
      evaluationPeriods: 3,
      comparisonOperator: 'LessThanThreshold',
      threshold: config.worker.desiredCount,
      treatMissingData: 'breaching',
    }),
    alarm('alb-unhealthy-targets', {
      alarmDescription: 'At least one API target fails its /health check',
      namespace: 'AWS/ApplicationELB',
      metricName: 'UnHealthyHostCount',
      dimensions: { LoadBalancer: args.albArnSuffix, TargetGroup: args.targetGroupArnSuffix },
      statistic: 'Maximum',
      period: 60,
      evaluationPeriods: 2,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: t.unhealthyTargets,
      treatMissingData: 'notBreaching',
    }),
  ]

  const metricWidget = (
    title: string,
    metrics: unknown[][],
    x: number,
    y: number,
    region = config.region,
  ) => ({
    type: 'metric',
    x,
    y,
    width: 12,
    height: 6,
    properties: { title, region, metrics, period: 60, stat: 'Average', view: 'timeSeries' },
  })
  new aws.cloudwatch.Dashboard(
    `${p}-main-dashboard`,
    {
      dashboardName: `${p}-main`,
      dashboardBody: pulumi.jsonStringify({
        widgets: [
          metricWidget(
            'RDS: CPU % and connections',
            [
              ['AWS/RDS', 'CPUUtilization', 'DBInstanceIdentifier', args.dbInstanceId],
              [
                'AWS/RDS',
                'DatabaseConnections',
                'DBInstanceIdentifier',
                args.dbInstanceId,
                { yAxis: 'right' },
              ],
            ],
            0,
            0,
          ),
          metricWidget(
            'Redis: memory % and CPU %',
            args.cacheMemberClusterIds.flatMap((id) => [
              ['AWS/ElastiCache', 'DatabaseMemoryUsagePercentage', 'CacheClusterId', id],
              ['AWS/ElastiCache', 'EngineCPUUtilization', 'CacheClusterId', id],
            ]),
            12,
            0,
          ),
          metricWidget(
            'ECS: CPU % / memory % / running tasks',
            [
              [
                'AWS/ECS',
                'CPUUtilization',
                'ClusterName',
                args.clusterName,
                'ServiceName',
                args.apiServiceName,
              ],
              [
                'AWS/ECS',
                'MemoryUtilization',
                'ClusterName',
                args.clusterName,
                'ServiceName',
                args.apiServiceName,
              ],
              [
                'ECS/ContainerInsights',
                'RunningTaskCount',
                'ClusterName',
                args.clusterName,
                'ServiceName',
                args.apiServiceName,
                { yAxis: 'right' },
              ],
            ],
            0,
            6,
          ),
          metricWidget(
            'ALB: requests, 5XX, p99 latency',
            [
              ['AWS/ApplicationELB', 'RequestCount', 'LoadBalancer', args.albArnSuffix, { stat: 'Sum' }],
              [
                'AWS/ApplicationELB',
                'HTTPCode_Target_5XX_Count',
                'LoadBalancer',
                args.albArnSuffix,
                { stat: 'Sum' },
              ],
              [
                'AWS/ApplicationELB',
                'TargetResponseTime',
                'LoadBalancer',
                args.albArnSuffix,
                { stat: 'p99', yAxis: 'right' },
              ],
            ],
            12,
            6,
          ),
        ],
      }),
    },
    concern.child(),
  )
  // Billing metrics exist only in us-east-1, whatever the stack's region.
  new aws.cloudwatch.Dashboard(
    `${p}-cost-dashboard`,
    {
      dashboardName: `${p}-cost`,
      dashboardBody: JSON.stringify({
        widgets: [
          {
            type: 'metric',
            x: 0,
            y: 0,
            width: 24,
            height: 6,
            properties: {
              title: 'Estimated charges by service (USD, month to date)',
              region: 'us-east-1',
              period: 21600,
              stat: 'Maximum',
              view: 'timeSeries',
              metrics: [
                ['AWS/Billing', 'EstimatedCharges', 'Currency', 'USD'],
                ...[
                  'AmazonRDS',
                  'AmazonElastiCache',
                  'AmazonECS',
                  'AmazonEC2',
                  'AWSELB',
                  'AmazonVPC',
                  'AmazonCloudWatch',
                  'AWSSecretsManager',
                  'awskms',
                  'AmazonS3',
                ].map((service) => [
                  'AWS/Billing',
                  'EstimatedCharges',
                  'ServiceName',
                  service,
                  'Currency',
                  'USD',
                ]),
              ],
            },
          },
          {
            type: 'text',
            x: 0,
            y: 6,
            width: 24,
            height: 3,
            properties: {
              markdown: `Budget: ${config.costControls.monthlyBudgetUsd} USD/month, alerts at 50/80/100 %. Estimate: \`npm run costs -w infra -- --stack ${config.stack}\`.`,
            },
          },
        ],
      }),
    },
    concern.child(),
  )

  const query = (name: string, queryString: string) =>
    new aws.cloudwatch.QueryDefinition(
      `${p}-query-${name}`,
      {
        name: `${p}/${name}`,
        logGroupNames: [args.logGroupName],
        queryString,
      },
      concern.child(),
    )
  // pino levels: 50 = error, 60 = fatal. Fastify logs `responseTime` (ms) on "request completed".
  query(
    'errors',
    'fields @timestamp, @logStream, level, msg, err.message\n| filter level >= 50\n| sort @timestamp desc\n| limit 200',
  )
  query(
    'slow-requests',
    'fields @timestamp, req.method, req.url, res.statusCode, responseTime\n| filter responseTime > 1000\n| sort responseTime desc\n| limit 200',
  )
  query(
    'connection-pool-errors',
    'fields @timestamp, @logStream, msg, err.message\n| filter @message like /(?i)(too many clients|remaining connection slots|timeout exceeded when trying to connect|Connection terminated|ECONNREFUSED|ECONNRESET|P1001|P2024|max number of clients reached)/\n| sort @timestamp desc\n| limit 200',
  )
  return { topic, alarms }
}
