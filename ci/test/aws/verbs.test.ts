import { BudgetsClient, DescribeBudgetCommand } from '@aws-sdk/client-budgets'
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricStatisticsCommand,
} from '@aws-sdk/client-cloudwatch'
import {
  CloudWatchLogsClient,
  DescribeLogGroupsCommand,
  GetLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs'
import {
  CostExplorerClient,
  GetCostAndUsageCommand,
  GetCostForecastCommand,
} from '@aws-sdk/client-cost-explorer'
import {
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2'
import { DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr'
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs'
import {
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import {
  DescribeCacheClustersCommand,
  DescribeReplicationGroupsCommand,
  ElastiCacheClient,
} from '@aws-sdk/client-elasticache'
import {
  CreateDBSnapshotCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBInstanceCommand,
  RDSClient,
  RebootDBInstanceCommand,
  RestoreDBInstanceToPointInTimeCommand,
} from '@aws-sdk/client-rds'
import {
  GetBucketEncryptionCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import { EXPECTED_ALARMS } from '../../src/aws/verify.js'
import { main } from '../../src/cli/main.js'
import { OPS_LINES } from '../core/ops-lines.js'
import {
  ACCOUNT,
  CLUSTER,
  DIGEST_OLD,
  IMAGE_OLD,
  RAW_OUTPUTS,
  TG_ARN,
  taskDefinition,
  testRuntime,
} from './fixtures.js'

const mocks = {
  ec2: mockClient(EC2Client),
  rds: mockClient(RDSClient),
  elasticache: mockClient(ElastiCacheClient),
  ecs: mockClient(ECSClient),
  elbv2: mockClient(ElasticLoadBalancingV2Client),
  s3: mockClient(S3Client),
  ecr: mockClient(ECRClient),
  logs: mockClient(CloudWatchLogsClient),
  cloudwatch: mockClient(CloudWatchClient),
  costExplorer: mockClient(CostExplorerClient),
  budgets: mockClient(BudgetsClient),
  sts: mockClient(STSClient),
  sns: mockClient(SNSClient),
}

const ALB_SG = 'sg-0a1b'
const TASK_SG = RAW_OUTPUTS.taskSecurityGroupId!
const DB_SG = 'sg-0db0'
const REDIS_SG = 'sg-0ca0'

async function run(verb: string, argv: string[], outputs: Record<string, string> = RAW_OUTPUTS) {
  const runtime = testRuntime()
  const out: string[] = []
  const err: string[] = []
  // Through the one CLI, as an operator types it: the AWS verbs are the CLI's verbs with --target aws.
  const code = await main([verb, '--target', 'aws', ...argv], {
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    signal: new AbortController().signal,
    awsTargetOptions: {
      clients: runtime.clients,
      clock: runtime.clock,
      timeouts: runtime.timeouts,
      outputs,
    },
  })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

const sg = (id: string, rules: { port: number; cidr?: string; group?: string }[]) => ({
  GroupId: id,
  IpPermissions: rules.map((rule) => ({
    IpProtocol: 'tcp',
    FromPort: rule.port,
    ToPort: rule.port,
    IpRanges: rule.cidr ? [{ CidrIp: rule.cidr }] : [],
    UserIdGroupPairs: rule.group ? [{ GroupId: rule.group }] : [],
  })),
})

const DB_INSTANCE = {
  DBInstanceIdentifier: RAW_OUTPUTS.dbInstanceId,
  DBInstanceStatus: 'available',
  DBInstanceClass: 'db.t3.small',
  MultiAZ: true,
  StorageEncrypted: true,
  KmsKeyId: 'arn:aws:kms:us-east-1:1:key/db',
  PubliclyAccessible: false,
  BackupRetentionPeriod: 7,
  VpcSecurityGroups: [{ VpcSecurityGroupId: DB_SG }],
  DBSubnetGroup: { DBSubnetGroupName: 'db-subnets' },
  DBParameterGroups: [{ DBParameterGroupName: 'pg15' }],
}

function healthyStack() {
  mocks.ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-0abc', State: 'available' }] })
  mocks.ec2.on(DescribeSubnetsCommand).resolves({
    Subnets: [
      {
        SubnetId: 'subnet-0a1',
        State: 'available',
        AvailabilityZone: 'us-east-1a',
        MapPublicIpOnLaunch: false,
      },
      {
        SubnetId: 'subnet-0b2',
        State: 'available',
        AvailabilityZone: 'us-east-1b',
        MapPublicIpOnLaunch: false,
      },
    ],
  })
  mocks.ec2.on(DescribeSecurityGroupsCommand).resolves({
    SecurityGroups: [
      sg(ALB_SG, [
        { port: 443, cidr: '0.0.0.0/0' },
        { port: 80, cidr: '0.0.0.0/0' },
      ]),
      sg(TASK_SG, [{ port: 3000, group: ALB_SG }]),
      sg(DB_SG, [{ port: 5432, group: TASK_SG }]),
      sg(REDIS_SG, [{ port: 6379, group: TASK_SG }]),
    ],
  })
  mocks.rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [DB_INSTANCE] })
  mocks.elasticache.on(DescribeReplicationGroupsCommand).resolves({
    ReplicationGroups: [
      {
        Status: 'available',
        MemberClusters: ['redis-001', 'redis-002'],
        AutomaticFailover: 'enabled',
        MultiAZ: 'enabled',
        AtRestEncryptionEnabled: true,
        TransitEncryptionEnabled: true,
        CacheNodeType: 'cache.t3.micro',
        Engine: 'redis',
      },
    ],
  })
  mocks.elasticache.on(DescribeCacheClustersCommand).resolves({
    CacheClusters: [{ SecurityGroups: [{ SecurityGroupId: REDIS_SG, Status: 'active' }] }],
  })
  mocks.ecs.on(DescribeServicesCommand).callsFake((input) => ({
    services: input.services.map((name: string) => ({
      serviceName: name,
      status: 'ACTIVE',
      desiredCount: 2,
      runningCount: 2,
      taskDefinition: `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/app-${name}:3`,
      deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', rolloutState: 'COMPLETED' }],
      events: [],
    })),
  }))
  mocks.ecs
    .on(DescribeTaskDefinitionCommand)
    .resolves({ taskDefinition: taskDefinition('app-api', 3, IMAGE_OLD) })
  mocks.ecs.on(ListTasksCommand).resolves({ taskArns: [] })
  mocks.elbv2.on(DescribeTargetGroupsCommand).resolves({
    TargetGroups: [
      {
        TargetGroupArn: TG_ARN,
        Port: 3000,
        HealthCheckPath: '/health',
        HealthCheckProtocol: 'HTTP',
        LoadBalancerArns: ['arn:lb'],
      },
    ],
  })
  mocks.elbv2.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [{ SecurityGroups: [ALB_SG] }] })
  mocks.elbv2.on(DescribeTargetHealthCommand).resolves({
    TargetHealthDescriptions: [
      { Target: { Id: '10.0.11.4', Port: 3000 }, TargetHealth: { State: 'healthy' } },
      { Target: { Id: '10.0.12.4', Port: 3000 }, TargetHealth: { State: 'healthy' } },
    ],
  })
  mocks.s3.on(GetBucketEncryptionCommand).resolves({
    ServerSideEncryptionConfiguration: {
      Rules: [
        {
          ApplyServerSideEncryptionByDefault: {
            SSEAlgorithm: 'aws:kms',
            KMSMasterKeyID: RAW_OUTPUTS.backupKmsKeyArn,
          },
        },
      ],
    },
  })
  mocks.ecr.on(DescribeRepositoriesCommand).resolves({
    repositories: [
      {
        encryptionConfiguration: { encryptionType: 'KMS' },
        imageScanningConfiguration: { scanOnPush: true },
        imageTagMutability: 'IMMUTABLE',
      },
    ],
  })
  mocks.logs.on(DescribeLogGroupsCommand).resolves({
    logGroups: [{ logGroupName: RAW_OUTPUTS.logGroupName, kmsKeyId: 'arn:aws:kms:us-east-1:1:key/logs' }],
  })
  mocks.sts
    .on(GetCallerIdentityCommand)
    .resolves({ Account: ACCOUNT, Arn: 'arn:aws:sts::1:assumed-role/ops' })
  mocks.cloudwatch.on(DescribeAlarmsCommand).resolves({
    MetricAlarms: EXPECTED_ALARMS.map((name) => ({
      AlarmName: `${RAW_OUTPUTS.clusterName}-${name}`,
      AlarmActions: [RAW_OUTPUTS.alertTopicArn!],
    })),
  })
  mocks.sns.on(ListSubscriptionsByTopicCommand).resolves({
    Subscriptions: [
      { SubscriptionArn: `${RAW_OUTPUTS.alertTopicArn}:1`, Protocol: 'email', Endpoint: 'ops@example.com' },
    ],
  })
}

beforeEach(() => {
  for (const mock of Object.values(mocks)) mock.reset()
})

describe('verify', () => {
  it('passes every check on a stack built as designed', async () => {
    healthyStack()
    const { code, out } = await run('verify', ['--stack', 'production'])
    expect(code).toBe(0)
    expect(out).toContain('✓ RDS Multi-AZ: Multi-AZ')
    expect(out).toContain(`✓ task security group: ${TASK_SG}: tcp/3000 from ${ALB_SG}`)
    expect(out).toContain(`✓ database security group: ${DB_SG}: tcp/5432 from ${TASK_SG}`)
    expect(out).toContain(`✓ alarms exist and notify the alert topic: ${EXPECTED_ALARMS.length} alarm(s)`)
    expect(out).toContain('✓ alert subscription confirmed: 1 confirmed (email)')
    expect(out).toMatch(/all 23 checks passed/)
    expect(out).not.toContain('✗')
  })

  it('fails when an alarm is missing or silent and the alert e-mail was never confirmed', async () => {
    healthyStack()
    mocks.cloudwatch.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: EXPECTED_ALARMS.filter((name) => name !== 'alb-5xx-high').map((name) => ({
        AlarmName: `${RAW_OUTPUTS.clusterName}-${name}`,
        AlarmActions: name === 'rds-cpu-high' ? [] : [RAW_OUTPUTS.alertTopicArn!],
      })),
    })
    mocks.sns.on(ListSubscriptionsByTopicCommand).resolves({
      Subscriptions: [
        { SubscriptionArn: 'PendingConfirmation', Protocol: 'email', Endpoint: 'ops@example.com' },
      ],
    })
    const { code, out } = await run('verify', ['--stack', 'production', '--json'])
    expect(code).toBe(1)
    const checks = (JSON.parse(out) as { checks: { name: string; ok: boolean; detail: string }[] }).checks
    const failed = Object.fromEntries(
      checks.filter((check) => !check.ok).map((check) => [check.name, check.detail]),
    )
    expect(failed).toEqual({
      'alarms exist and notify the alert topic': `missing: ${RAW_OUTPUTS.clusterName}-alb-5xx-high; not notifying the topic: ${RAW_OUTPUTS.clusterName}-rds-cpu-high`,
      'alert subscription confirmed':
        '1 subscription(s) PendingConfirmation: confirm the e-mail sent to ops@example.com',
    })
  })

  it('fails on drift: an extra ingress rule, a single-AZ production database, unencrypted transit', async () => {
    healthyStack()
    mocks.ec2.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: [
        sg(ALB_SG, [
          { port: 443, cidr: '0.0.0.0/0' },
          { port: 80, cidr: '0.0.0.0/0' },
        ]),
        sg(TASK_SG, [{ port: 3000, group: ALB_SG }]),
        sg(DB_SG, [
          { port: 5432, group: TASK_SG },
          { port: 5432, cidr: '0.0.0.0/0' },
        ]),
        sg(REDIS_SG, [{ port: 6379, group: TASK_SG }]),
      ],
    })
    mocks.rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ ...DB_INSTANCE, MultiAZ: false }] })
    mocks.elasticache.on(DescribeReplicationGroupsCommand).resolves({
      ReplicationGroups: [
        {
          Status: 'available',
          MemberClusters: ['r1', 'r2'],
          AutomaticFailover: 'enabled',
          AtRestEncryptionEnabled: true,
          TransitEncryptionEnabled: false,
        },
      ],
    })
    const { code, out } = await run('verify', ['--stack', 'production', '--json'])
    expect(code).toBe(1)
    const report = JSON.parse(out) as {
      passed: boolean
      checks: { name: string; ok: boolean; detail: string }[]
    }
    expect(report.passed).toBe(false)
    expect(report.checks.filter((check) => !check.ok).map((check) => check.name)).toEqual([
      'RDS Multi-AZ',
      'Redis encrypted',
      'database security group',
      'no other open ingress',
    ])
    expect(report.checks.find((check) => check.name === 'database security group')!.detail).toBe(
      `${DB_SG}: expected [tcp/5432 from ${TASK_SG}], found [tcp/5432 from 0.0.0.0/0, tcp/5432 from ${TASK_SG}]`,
    )
  })
})

describe('diagnose', () => {
  it('explains stopped tasks, unhealthy targets, alarms and connections with the next command', async () => {
    healthyStack()
    mocks.ecs.on(ListTasksCommand).resolves({ taskArns: ['arn:aws:ecs:us-east-1:1:task/c/t1'] })
    mocks.ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        {
          taskArn: 'arn:aws:ecs:us-east-1:1:task/c/t1',
          lastStatus: 'STOPPED',
          stoppedReason: 'ResourceInitializationError: unable to pull secrets or registry auth',
          containers: [{ name: 'api' }],
        },
      ],
    })
    mocks.elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        {
          Target: { Id: '10.0.11.4', Port: 3000 },
          TargetHealth: { State: 'unhealthy', Reason: 'Target.Timeout', Description: 'Request timed out' },
        },
      ],
    })
    mocks.cloudwatch.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        {
          AlarmName: 'api-5xx',
          MetricName: 'HTTPCode_Target_5XX_Count',
          StateReason: 'Threshold crossed: 1 datapoint [42.0] > 10',
          AlarmActions: [RAW_OUTPUTS.alertTopicArn!],
        },
        {
          AlarmName: 'other-team',
          MetricName: 'CPUUtilization',
          AlarmActions: ['arn:aws:sns:us-east-1:1:other'],
        },
      ],
    })
    mocks.cloudwatch
      .on(GetMetricStatisticsCommand)
      .resolves({ Datapoints: [{ Maximum: 85 }, { Maximum: 60 }] })

    // A limit of 100: the peak of 85 is past the 80 % mark.
    const { code, out } = await run('diagnose', ['--stack', 'staging'], {
      ...RAW_OUTPUTS,
      databaseMaxConnections: '100',
    })
    expect(code).toBe(1)
    expect(out).toContain('✗ api task t1 stopped: ResourceInitializationError')
    expect(out).toContain('likely cause: the execution role cannot read a secret')
    expect(out).toContain('next: npm run deploy -- --target aws --stack staging --dry-run')
    expect(out).toContain('✗ target 10.0.11.4:3000 unhealthy: Request timed out')
    expect(out).toContain('next: npx tsx ci/src/cli/main.ts verify --target aws --stack staging')
    expect(out).toContain('alarm api-5xx in ALARM')
    expect(out).toContain('next: npx tsx ci/src/cli/main.ts rollback --target aws --stack staging')
    expect(out).not.toContain('other-team')
    expect(out).toContain('RDS connections peaked at 85 of 100 (max_connections)')
  })

  it("measures connections against the stack's max_connections output, not a fixed limit", async () => {
    healthyStack()
    mocks.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] })
    mocks.cloudwatch.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Maximum: 85 }] })
    const roomy = await run('diagnose', ['--json'], { ...RAW_OUTPUTS, databaseMaxConnections: '150' })
    expect(roomy.code).toBe(0)
    expect(JSON.parse(roomy.out).findings).toEqual([
      expect.objectContaining({
        severity: 'info',
        what: expect.stringContaining('85 of 150 (max_connections)'),
      }),
    ])
    const tight = await run('diagnose', ['--json'], { ...RAW_OUTPUTS, databaseMaxConnections: '100' })
    expect(tight.code).toBe(1)
    expect(JSON.parse(tight.out).findings).toEqual([
      expect.objectContaining({
        severity: 'error',
        what: expect.stringContaining('85 of 100 (max_connections)'),
      }),
    ])
  })

  it('reports nothing wrong on a healthy stack', async () => {
    healthyStack()
    mocks.cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] })
    mocks.cloudwatch.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Maximum: 12 }] })
    const { code, out } = await run('diagnose', ['--json'])
    expect(code).toBe(0)
    const { findings } = JSON.parse(out) as { findings: { severity: string }[] }
    expect(findings.map((finding) => finding.severity)).toEqual(['info'])
  })
})

describe('costs', () => {
  it('shows month to date by service, the forecast, the budget and right-sizing savings', async () => {
    healthyStack()
    mocks.costExplorer.on(GetCostAndUsageCommand).resolves({
      ResultsByTime: [
        {
          Groups: [
            {
              Keys: ['Amazon Relational Database Service'],
              Metrics: { UnblendedCost: { Amount: '41.204', Unit: 'USD' } },
            },
            {
              Keys: ['Amazon Elastic Container Service'],
              Metrics: { UnblendedCost: { Amount: '13.5', Unit: 'USD' } },
            },
            { Keys: ['Tax'], Metrics: { UnblendedCost: { Amount: '0', Unit: 'USD' } } },
          ],
        },
      ],
    })
    mocks.costExplorer.on(GetCostForecastCommand).resolves({ Total: { Amount: '22.5', Unit: 'USD' } })
    mocks.budgets.on(DescribeBudgetCommand).resolves({
      Budget: {
        BudgetName: RAW_OUTPUTS.budgetName,
        BudgetLimit: { Amount: '200', Unit: 'USD' },
        CalculatedSpend: {
          ActualSpend: { Amount: '54.70', Unit: 'USD' },
          ForecastedSpend: { Amount: '77.2', Unit: 'USD' },
        },
      } as never,
    })
    mocks.cloudwatch.on(GetMetricStatisticsCommand).callsFake((input) => {
      const averages: Record<string, number> = {
        CPUUtilization: input.Namespace === 'AWS/RDS' ? 12 : 9,
        DatabaseMemoryUsagePercentage: 20,
        MemoryUtilization: 30,
      }
      return {
        Datapoints: [{ Average: averages[input.MetricName]! }, { Average: averages[input.MetricName]! + 2 }],
      }
    })
    mocks.ecs.on(DescribeTaskDefinitionCommand).resolves({
      taskDefinition: { ...taskDefinition('app-api', 3, IMAGE_OLD), cpu: '512', memory: '1024' },
    })

    const { code, out } = await run('costs', ['--forecast', '--recommend', '--json'])
    expect(code).toBe(0)
    const report = JSON.parse(out)
    expect(report.lines).toEqual([
      { service: 'Amazon Relational Database Service', amount: 41.2 },
      { service: 'Amazon Elastic Container Service', amount: 13.5 },
    ])
    expect(report.total).toBe(54.7)
    expect(report.period).toEqual({ start: '2026-11-01', end: '2026-11-26' })
    expect(report.forecast.endOfMonth).toBe(22.5)
    expect(report.budget).toEqual({
      name: RAW_OUTPUTS.budgetName,
      limit: 200,
      actual: 54.7,
      forecasted: 77.2,
      percentUsed: 27.4,
    })
    const [database, cache, api] = report.recommendations
    // db.t3.small Multi-AZ $0.072/h → db.t3.micro Multi-AZ $0.036/h over 730 h.
    expect(database).toMatchObject({ action: 'move to db.t3.micro', monthlySavingUsd: 26.28 })
    // 2 × cache.t3.micro Redis $0.017/h → cache.t4g.micro Valkey $0.0128/h.
    expect(cache).toMatchObject({
      action: 'move to cache.t4g.micro (Graviton) with the Valkey engine',
      monthlySavingUsd: 6.13,
    })
    // 2 tasks of 0.5 vCPU / 1 GB → 0.25 vCPU / 0.5 GB: 2 × (0.25 × 0.04048 + 0.5 × 0.004445) × 730.
    expect(api).toMatchObject({ action: 'task size 0.25 vCPU / 0.5 GB', monthlySavingUsd: 18.02 })
    expect(mocks.costExplorer.commandCalls(GetCostAndUsageCommand)[0]!.args[0].input.GroupBy).toEqual([
      { Type: 'DIMENSION', Key: 'SERVICE' },
    ])
  })

  it('prints a table and groups by usage type with --detailed', async () => {
    healthyStack()
    mocks.costExplorer.on(GetCostAndUsageCommand).resolves({
      ResultsByTime: [
        {
          Groups: [
            {
              Keys: ['Amazon Relational Database Service', 'USE1-Multi-AZUsage:db.t3.small'],
              Metrics: { UnblendedCost: { Amount: '30', Unit: 'USD' } },
            },
          ],
        },
      ],
    })
    mocks.budgets
      .on(DescribeBudgetCommand)
      .resolves({ Budget: { BudgetLimit: { Amount: '200', Unit: 'USD' } } as never })
    const { code, out } = await run('costs', ['--detailed'])
    expect(code).toBe(0)
    expect(out).toMatch(/Amazon Relational Database Service \/ USE1-Multi-AZUsage:db.t3.small\s+\$30.00/)
    expect(out).toMatch(/Budget whatsapp-saas-staging-monthly: \$0.00 of \$200.00 \(0 %\)/)
  })
})

describe('backup and restore verbs', () => {
  it('takes an RDS snapshot and waits until it is available', async () => {
    mocks.rds.on(CreateDBSnapshotCommand).resolves({})
    mocks.rds
      .on(DescribeDBSnapshotsCommand)
      .resolvesOnce({ DBSnapshots: [{ Status: 'creating', PercentProgress: 40 }] })
      .resolves({ DBSnapshots: [{ Status: 'available', PercentProgress: 100 }] })
    const { code, out } = await run('backup', ['--snapshot'])
    expect(code).toBe(0)
    expect(out).toBe('snapshot whatsapp-saas-staging-db-manual-20261125-010000 available')
    expect(mocks.rds.commandCalls(DescribeDBSnapshotsCommand)).toHaveLength(2)
  })

  it('restores to a point in time into a new instance shaped like the source', async () => {
    healthyStack()
    mocks.rds.on(RestoreDBInstanceToPointInTimeCommand).resolves({})
    mocks.rds.on(DescribeDBInstancesCommand).callsFake((input) =>
      input.DBInstanceIdentifier === RAW_OUTPUTS.dbInstanceId
        ? { DBInstances: [DB_INSTANCE] }
        : {
            DBInstances: [
              {
                DBInstanceStatus: 'available',
                Endpoint: { Address: 'restored.rds.amazonaws.com', Port: 5432 },
              },
            ],
          },
    )
    const { code, out } = await run('restore', ['--point-in-time', '2026-11-25T00:40:00Z'])
    expect(code).toBe(0)
    expect(mocks.rds.commandCalls(RestoreDBInstanceToPointInTimeCommand)[0]!.args[0].input).toMatchObject({
      SourceDBInstanceIdentifier: RAW_OUTPUTS.dbInstanceId,
      TargetDBInstanceIdentifier: 'whatsapp-saas-staging-db-restore-20261125-010000',
      RestoreTime: new Date('2026-11-25T00:40:00Z'),
      DBSubnetGroupName: 'db-subnets',
      VpcSecurityGroupIds: [DB_SG],
      MultiAZ: true,
      PubliclyAccessible: false,
    })
    expect(out).toContain(
      'into NEW instance whatsapp-saas-staging-db-restore-20261125-010000 (restored.rds.amazonaws.com:5432)',
    )
  })

  it('a forced restore of a dump first takes a verified safety backup, all as one-off tasks of the serving digest', async () => {
    healthyStack()
    const ran: string[][] = []
    mocks.ecs.on(RunTaskCommand).callsFake((input) => {
      ran.push(input.overrides.containerOverrides[0].command.slice(2))
      return { tasks: [{ taskArn: `arn:aws:ecs:us-east-1:1:task/c/t${ran.length}` }] }
    })
    mocks.ecs.on(DescribeTasksCommand).callsFake((input) => ({
      tasks: [{ taskArn: input.tasks[0], lastStatus: 'STOPPED', containers: [{ name: 'api', exitCode: 0 }] }],
    }))
    mocks.logs.on(GetLogEventsCommand).callsFake((input) => {
      const last = ran.at(-1)![0]!
      const line =
        last === 'backup'
          ? JSON.stringify({ ...OPS_LINES.backup, backupId: 'safety-1' })
          : last === 'verify-backup'
            ? JSON.stringify({ ...OPS_LINES['verify-backup'], backupId: 'safety-1' })
            : JSON.stringify({
                command: 'restore',
                ok: true,
                backupId: '20261124T020000Z-b7',
                database: 'whatsapp on db:5432',
                replacedRelations: 14,
                rows: 120,
              })
      return input.nextToken
        ? { events: [], nextForwardToken: input.nextToken }
        : { events: [{ message: line }], nextForwardToken: 'f/1' }
    })
    mocks.ecr
      .on(DescribeImagesCommand)
      .resolves({ imageDetails: [{ imageDigest: DIGEST_OLD, imageTags: ['old0001'] }] })

    const { code, out } = await run('restore', ['--backup', '20261124T020000Z-b7', '--force'])
    expect(code).toBe(0)
    expect(ran).toEqual([
      ['backup'],
      ['verify-backup', '--backup', 'safety-1'],
      ['restore', '--backup', '20261124T020000Z-b7', '--force'],
    ])
    expect(out).toBe('restored backup 20261124T020000Z-b7 (the previous data is in backup safety-1)')
    const environment =
      mocks.ecs.commandCalls(RunTaskCommand)[0]!.args[0].input.overrides?.containerOverrides?.[0]?.environment
    expect(environment).toContainEqual({
      name: 'BACKUP_STORE',
      value: RAW_OUTPUTS.backupStore,
    })
  })

  it('lists the dumps in the backup store the stack outputs name, newest first', async () => {
    mocks.s3.on(ListObjectsV2Command).resolves({
      Contents: [
        { Key: 'dumps/staging/20261123T020000Z-a1.dump', LastModified: new Date('2026-11-23T02:00:05Z') },
        {
          Key: 'dumps/staging/20261123T020000Z-a1.manifest.json',
          LastModified: new Date('2026-11-23T02:00:06Z'),
        },
        {
          Key: 'dumps/staging/20261124T020000Z-b7.manifest.json',
          LastModified: new Date('2026-11-24T02:00:06Z'),
        },
      ],
    })
    const { code, out } = await run('backup', ['--list'], {
      ...RAW_OUTPUTS,
      backupStore: 's3://other-backups/dumps/staging',
    })
    expect(code).toBe(0)
    expect(mocks.s3.commandCalls(ListObjectsV2Command)[0]!.args[0].input).toMatchObject({
      Bucket: 'other-backups',
      Prefix: 'dumps/staging/',
    })
    expect(out.split('\n')).toEqual([
      '20261124T020000Z-b7  2026-11-24T02:00:06.000Z',
      '20261123T020000Z-a1  2026-11-23T02:00:06.000Z',
    ])
  })

  it('fails the database over to its standby and waits until it is available again', async () => {
    mocks.rds
      .on(DescribeDBInstancesCommand)
      .resolvesOnce({ DBInstances: [{ ...DB_INSTANCE, AvailabilityZone: 'us-east-1a' }] })
      .resolvesOnce({ DBInstances: [{ ...DB_INSTANCE, DBInstanceStatus: 'rebooting' }] })
      .resolves({ DBInstances: [{ ...DB_INSTANCE, AvailabilityZone: 'us-east-1b' }] })
    mocks.rds.on(RebootDBInstanceCommand).resolves({})
    const { code, out } = await run('failover', ['--database', '--json'])
    expect(code).toBe(0)
    expect(JSON.parse(out)).toEqual({
      resource: RAW_OUTPUTS.dbInstanceId,
      fromZone: 'us-east-1a',
      toZone: 'us-east-1b',
    })
    expect(mocks.rds.commandCalls(RebootDBInstanceCommand)[0]!.args[0].input).toEqual({
      DBInstanceIdentifier: RAW_OUTPUTS.dbInstanceId,
      ForceFailover: true,
    })
  })

  it('switches to a restored instance by swapping identifiers, then restarts the services', async () => {
    healthyStack()
    const instances = new Map([
      [RAW_OUTPUTS.dbInstanceId!, { ...DB_INSTANCE }],
      ['db-restore-1', { ...DB_INSTANCE, DBInstanceIdentifier: 'db-restore-1' }],
    ])
    mocks.rds.on(DescribeDBInstancesCommand).callsFake((input) => {
      const instance = instances.get(input.DBInstanceIdentifier)
      if (!instance) throw Object.assign(new Error('not found'), { name: 'DBInstanceNotFoundFault' })
      return { DBInstances: [instance] }
    })
    mocks.rds.on(ModifyDBInstanceCommand).callsFake((input) => {
      instances.set(input.NewDBInstanceIdentifier, instances.get(input.DBInstanceIdentifier)!)
      instances.delete(input.DBInstanceIdentifier)
      return {}
    })
    mocks.ecs.on(UpdateServiceCommand).callsFake((input) => ({
      service: {
        deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition: input.taskDefinition }],
      },
    }))

    const { code, out } = await run('switch-database', ['--instance', 'db-restore-1'])
    expect(code).toBe(0)
    expect(mocks.rds.commandCalls(ModifyDBInstanceCommand).map((call) => call.args[0].input)).toEqual([
      {
        DBInstanceIdentifier: RAW_OUTPUTS.dbInstanceId,
        NewDBInstanceIdentifier: 'whatsapp-saas-staging-db-replaced-20261125-010000',
        ApplyImmediately: true,
      },
      {
        DBInstanceIdentifier: 'db-restore-1',
        NewDBInstanceIdentifier: RAW_OUTPUTS.dbInstanceId,
        ApplyImmediately: true,
      },
    ])
    expect(instances.get(RAW_OUTPUTS.dbInstanceId!)!.DBInstanceIdentifier).toBe('db-restore-1')
    expect(
      mocks.ecs.commandCalls(UpdateServiceCommand).map((call) => call.args[0].input.forceNewDeployment),
    ).toEqual([true, true])
    expect(out).toContain('db-restore-1 now serves as whatsapp-saas-staging-db')
  })

  it('refuses a database failover without a standby', async () => {
    mocks.rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ ...DB_INSTANCE, MultiAZ: false }] })
    const { code, err } = await run('failover', ['--database'])
    expect(code).toBe(1)
    expect(err).toContain('is not Multi-AZ: there is no standby to fail over to')
    expect(mocks.rds.commandCalls(RebootDBInstanceCommand)).toHaveLength(0)
  })

  it('refuses ambiguous or malformed usage before calling AWS', async () => {
    expect((await run('backup', [])).code).toBe(2)
    expect((await run('restore', ['--backup', 'b1', '--snapshot', 's1'])).code).toBe(2)
    const bad = await run('restore', ['--point-in-time', 'yesterday'])
    expect(bad.code).toBe(2)
    expect(bad.err).toContain('--point-in-time must be an ISO time')
    expect((await run('verify', ['--bogus'])).code).toBe(2)
    expect((await run('teleport', [])).code).toBe(2)
    expect(mocks.rds.calls()).toHaveLength(0)
  })
})

it('uses the cluster from the outputs', () => {
  expect(RAW_OUTPUTS.clusterName).toBe(CLUSTER)
})

describe('rollback', () => {
  it('takes the deploy lock: a rollback never races a running deploy', async () => {
    healthyStack()
    const holder = { runId: 'deploy-7', holder: 'ci@github run 7', pid: 42, since: new Date().toISOString() }
    mocks.s3.on(PutObjectCommand).rejects(
      Object.assign(new Error('precondition'), {
        name: 'PreconditionFailed',
        $metadata: { httpStatusCode: 412 },
      }),
    )
    mocks.s3
      .on(GetObjectCommand)
      .resolves({ Body: { transformToString: async () => JSON.stringify(holder) } } as never)
    const { code, err } = await run('rollback', ['--stack', 'staging'])
    expect(code).toBe(1)
    expect(err).toContain('is being deployed by ci@github run 7 (run deploy-7')
    expect(mocks.ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0)
  })
})
