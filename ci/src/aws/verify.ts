// `verify` (validate-production): the deployed stack checked against its design — network, database, cache,
// services, load balancer targets, security groups rule by rule, and encryption at rest.
import { DescribeAlarmsCommand, type MetricAlarm } from '@aws-sdk/client-cloudwatch'
import { DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs'
import {
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  type IpPermission,
  type SecurityGroup,
} from '@aws-sdk/client-ec2'
import { DescribeRepositoriesCommand } from '@aws-sdk/client-ecr'
import {
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import { DescribeCacheClustersCommand, DescribeReplicationGroupsCommand } from '@aws-sdk/client-elasticache'
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds'
import { GetBucketEncryptionCommand } from '@aws-sdk/client-s3'
import { ListSubscriptionsByTopicCommand } from '@aws-sdk/client-sns'
import type { CheckResult } from './checklist.js'
import { describeService, targetHealth } from './ecs-services.js'
import { describeAwsError, isCredentialsError } from './errors.js'
import { ecrRepositoryName } from './image-reference.js'
import type { AwsRuntime } from './runtime.js'
import type { StackOutputs } from './stack-outputs.js'

/** Ingress rules as comparable strings: `tcp/443 from 0.0.0.0/0`, `tcp/5432 from sg-…`. */
export function ingressRules(permissions: IpPermission[] = []): string[] {
  const rules: string[] = []
  for (const permission of permissions) {
    const protocol = permission.IpProtocol === '-1' ? 'all' : permission.IpProtocol
    const ports =
      permission.FromPort === undefined || permission.FromPort === -1
        ? '*'
        : permission.FromPort === permission.ToPort
          ? `${permission.FromPort}`
          : `${permission.FromPort}-${permission.ToPort}`
    const sources = [
      ...(permission.IpRanges ?? []).map((range) => range.CidrIp),
      ...(permission.Ipv6Ranges ?? []).map((range) => range.CidrIpv6),
      ...(permission.UserIdGroupPairs ?? []).map((pair) => pair.GroupId),
      ...(permission.PrefixListIds ?? []).map((list) => list.PrefixListId),
    ]
    for (const source of sources) rules.push(`${protocol}/${ports} from ${source}`)
  }
  return rules.sort()
}

function sameRules(actual: string[], expected: string[]): boolean {
  return JSON.stringify([...actual].sort()) === JSON.stringify([...expected].sort())
}

function rulesCheck(name: string, group: SecurityGroup | undefined, expected: string[]): CheckResult {
  if (!group) return { name, ok: false, detail: 'security group not found' }
  const actual = ingressRules(group.IpPermissions)
  return {
    name,
    ok: sameRules(actual, expected),
    detail: sameRules(actual, expected)
      ? `${group.GroupId}: ${actual.join(', ')}`
      : `${group.GroupId}: expected [${expected.join(', ')}], found [${actual.join(', ')}]`,
  }
}

type Probe = () => Promise<CheckResult[]>

/**
 * The alarms infra/src/monitoring.ts creates, by name after the stack prefix (the cluster name); the Redis
 * memory alarms are one per node (`redis-memory-high-<n>`), at least the two nodes of a replication group.
 */
export const EXPECTED_ALARMS = [
  'rds-cpu-high',
  'rds-connections-high',
  'redis-memory-high-1',
  'redis-memory-high-2',
  'alb-5xx-high',
  'ecs-api-running-tasks-low',
  'ecs-worker-running-tasks-low',
  'alb-unhealthy-targets',
] as const

async function stackAlarms(runtime: AwsRuntime, prefix: string): Promise<MetricAlarm[]> {
  const alarms: MetricAlarm[] = []
  let NextToken: string | undefined
  do {
    const page = await runtime.clients.cloudwatch.send(
      new DescribeAlarmsCommand({ AlarmNamePrefix: prefix, AlarmTypes: ['MetricAlarm'], NextToken }),
    )
    alarms.push(...(page.MetricAlarms ?? []))
    NextToken = page.NextToken
  } while (NextToken)
  return alarms
}

async function guardedProbe(name: string, probe: Probe): Promise<CheckResult[]> {
  try {
    return await probe()
  } catch (error) {
    if (isCredentialsError(error)) throw error
    return [{ name, ok: false, detail: describeAwsError(error) }]
  }
}

export async function verifyStack(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  stack: string,
): Promise<CheckResult[]> {
  const { clients } = runtime
  const production = stack === 'production'
  const groupIds: { alb?: string; rds?: string[]; redis?: string[]; appPort?: number } = {}

  const network: Probe = async () => {
    const { Vpcs: vpcs } = await clients.ec2.send(new DescribeVpcsCommand({ VpcIds: [outputs.vpcId] }))
    const { Subnets: subnets = [] } = await clients.ec2.send(
      new DescribeSubnetsCommand({ SubnetIds: outputs.privateSubnetIds }),
    )
    const zones = new Set(subnets.map((subnet) => subnet.AvailabilityZone))
    const publicIps = subnets.filter((subnet) => subnet.MapPublicIpOnLaunch).map((subnet) => subnet.SubnetId)
    return [
      {
        name: 'VPC',
        ok: vpcs?.[0]?.State === 'available',
        detail: `${outputs.vpcId} ${vpcs?.[0]?.State ?? 'missing'}`,
      },
      {
        name: 'private subnets',
        ok:
          subnets.length === outputs.privateSubnetIds.length &&
          subnets.every((subnet) => subnet.State === 'available') &&
          zones.size >= 2 &&
          publicIps.length === 0,
        detail: `${subnets.length} available in ${zones.size} AZ(s)${publicIps.length > 0 ? `; public IPs on launch in ${publicIps.join(', ')}` : ''}`,
      },
    ]
  }

  const database: Probe = async () => {
    const { DBInstances: instances } = await clients.rds.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: outputs.dbInstanceId }),
    )
    const db = instances?.[0]
    groupIds.rds = (db?.VpcSecurityGroups ?? []).map((group) => group.VpcSecurityGroupId!).filter(Boolean)
    return [
      {
        name: 'RDS available',
        ok: db?.DBInstanceStatus === 'available',
        detail: `${outputs.dbInstanceId} ${db?.DBInstanceStatus ?? 'missing'}`,
      },
      {
        name: 'RDS Multi-AZ',
        ok: db?.MultiAZ === true || !production,
        detail: db?.MultiAZ
          ? 'Multi-AZ'
          : production
            ? 'single-AZ in production'
            : 'single-AZ (allowed outside production)',
      },
      {
        name: 'RDS encrypted',
        ok: db?.StorageEncrypted === true,
        detail: db?.StorageEncrypted ? `KMS ${db.KmsKeyId ?? ''}` : 'storage NOT encrypted',
      },
      {
        name: 'RDS private',
        ok: db?.PubliclyAccessible === false,
        detail: db?.PubliclyAccessible ? 'publicly accessible' : 'not publicly accessible',
      },
      {
        name: 'RDS backups',
        ok: (db?.BackupRetentionPeriod ?? 0) >= 7,
        detail: `retention ${db?.BackupRetentionPeriod ?? 0} day(s), latest restorable ${db?.LatestRestorableTime?.toISOString() ?? 'none'}`,
      },
    ]
  }

  const cache: Probe = async () => {
    const { ReplicationGroups: groups } = await clients.elasticache.send(
      new DescribeReplicationGroupsCommand({ ReplicationGroupId: outputs.redisReplicationGroupId }),
    )
    const group = groups?.[0]
    const members = group?.MemberClusters ?? []
    if (members[0]) {
      const { CacheClusters: clusters } = await clients.elasticache.send(
        new DescribeCacheClustersCommand({ CacheClusterId: members[0] }),
      )
      groupIds.redis = (clusters?.[0]?.SecurityGroups ?? []).map((sg) => sg.SecurityGroupId!).filter(Boolean)
    }
    return [
      {
        name: 'Redis healthy',
        ok: group?.Status === 'available' && members.length >= 2 && group.AutomaticFailover === 'enabled',
        detail: `${outputs.redisReplicationGroupId} ${group?.Status ?? 'missing'}, ${members.length} node(s), failover ${group?.AutomaticFailover ?? '?'}, Multi-AZ ${group?.MultiAZ ?? '?'}`,
      },
      {
        name: 'Redis encrypted',
        ok: group?.AtRestEncryptionEnabled === true && group?.TransitEncryptionEnabled === true,
        detail: `at rest ${group?.AtRestEncryptionEnabled ? 'on' : 'OFF'}, in transit ${group?.TransitEncryptionEnabled ? 'on' : 'OFF'}`,
      },
    ]
  }

  const services: Probe = async () => {
    const results: CheckResult[] = []
    for (const name of [outputs.apiServiceName, outputs.workerServiceName]) {
      const service = await describeService(runtime, outputs.clusterName, name)
      const steady = (service.deployments ?? []).length === 1
      results.push({
        name: `ECS ${name}`,
        ok: service.runningCount === service.desiredCount && (service.desiredCount ?? 0) > 0 && steady,
        detail: `running ${service.runningCount}/${service.desiredCount}${steady ? '' : `, ${(service.deployments ?? []).length} deployments in flight`}`,
      })
    }
    return results
  }

  const loadBalancer: Probe = async () => {
    const { TargetGroups: targetGroups } = await clients.elbv2.send(
      new DescribeTargetGroupsCommand({ TargetGroupArns: [outputs.targetGroupArn] }),
    )
    const targetGroup = targetGroups?.[0]
    groupIds.appPort = targetGroup?.Port
    const { LoadBalancers: balancers } = await clients.elbv2.send(
      new DescribeLoadBalancersCommand({ LoadBalancerArns: targetGroup?.LoadBalancerArns?.slice(0, 1) }),
    )
    groupIds.alb = balancers?.[0]?.SecurityGroups?.[0]
    const health = await targetHealth(runtime, outputs.targetGroupArn)
    return [
      {
        name: 'ALB targets healthy',
        ok: health.healthy > 0 && health.unhealthy.length === 0,
        detail: `${health.healthy} healthy${health.unhealthy.length > 0 ? `; ${health.unhealthy.map((t) => `${t.id} ${t.state} ${t.reason}`).join(', ')}` : ''}`,
      },
      {
        name: 'ALB health check',
        ok: targetGroup?.HealthCheckPath === '/health',
        detail: `${targetGroup?.HealthCheckProtocol ?? '?'} ${targetGroup?.HealthCheckPath ?? '?'} on port ${targetGroup?.Port ?? '?'}`,
      },
    ]
  }

  const securityGroups: Probe = async () => {
    const { SecurityGroups: groups = [] } = await clients.ec2.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [outputs.vpcId] }] }),
    )
    const byId = new Map(groups.map((group) => [group.GroupId, group]))
    const task = outputs.taskSecurityGroupId
    const results = [
      rulesCheck('ALB security group', byId.get(groupIds.alb), [
        'tcp/443 from 0.0.0.0/0',
        'tcp/80 from 0.0.0.0/0',
      ]),
      rulesCheck('task security group', byId.get(task), [
        `tcp/${groupIds.appPort ?? '?'} from ${groupIds.alb ?? '?'}`,
      ]),
      ...(groupIds.rds ?? ['?']).map((id) =>
        rulesCheck('database security group', byId.get(id), [`tcp/5432 from ${task}`]),
      ),
      ...(groupIds.redis ?? ['?']).map((id) =>
        rulesCheck('Redis security group', byId.get(id), [`tcp/6379 from ${task}`]),
      ),
    ]
    const open = groups
      .filter((group) => group.GroupId !== groupIds.alb)
      .filter((group) =>
        ingressRules(group.IpPermissions).some((rule) => / from (0\.0\.0\.0\/0|::\/0)$/.test(rule)),
      )
    results.push({
      name: 'no other open ingress',
      ok: open.length === 0,
      detail:
        open.length === 0
          ? `${groups.length} group(s) in the VPC`
          : `open to the internet: ${open.map((g) => g.GroupId).join(', ')}`,
    })
    return results
  }

  const encryption: Probe = async () => {
    const bucket = await clients.s3.send(new GetBucketEncryptionCommand({ Bucket: outputs.backupBucket }))
    const rule = bucket.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault
    const keyId = outputs.backupKmsKeyArn.slice(outputs.backupKmsKeyArn.lastIndexOf('/') + 1)
    const { repositories } = await clients.ecr.send(
      new DescribeRepositoriesCommand({ repositoryNames: [ecrRepositoryName(outputs.ecrRepositoryUrl)] }),
    )
    const repository = repositories?.[0]
    const { logGroups } = await clients.logs.send(
      new DescribeLogGroupsCommand({ logGroupNamePrefix: outputs.logGroupName }),
    )
    const logGroup = logGroups?.find((group) => group.logGroupName === outputs.logGroupName)
    return [
      {
        name: 'backup bucket encrypted',
        ok: rule?.SSEAlgorithm === 'aws:kms' && (rule.KMSMasterKeyID ?? '').endsWith(keyId),
        detail: `${rule?.SSEAlgorithm ?? 'none'} ${rule?.KMSMasterKeyID ?? ''}`.trim(),
      },
      {
        name: 'ECR encrypted',
        ok: repository?.encryptionConfiguration?.encryptionType === 'KMS',
        detail: `${repository?.encryptionConfiguration?.encryptionType ?? 'none'}, scan on push ${repository?.imageScanningConfiguration?.scanOnPush ? 'on' : 'off'}, tags ${repository?.imageTagMutability ?? '?'}`,
      },
      {
        name: 'logs encrypted',
        ok: Boolean(logGroup?.kmsKeyId),
        detail: logGroup?.kmsKeyId ? `KMS ${logGroup.kmsKeyId}` : `${outputs.logGroupName} has no KMS key`,
      },
    ]
  }

  const alerting: Probe = async () => {
    const prefix = `${outputs.clusterName}-`
    const alarms = await stackAlarms(runtime, prefix)
    const byName = new Map(alarms.map((alarm) => [alarm.AlarmName ?? '', alarm]))
    const missing = EXPECTED_ALARMS.filter((name) => !byName.has(`${prefix}${name}`))
    const silent = alarms
      .filter((alarm) => !(alarm.AlarmActions ?? []).includes(outputs.alertTopicArn))
      .map((alarm) => alarm.AlarmName)
    const { Subscriptions: subscriptions = [] } = await clients.sns.send(
      new ListSubscriptionsByTopicCommand({ TopicArn: outputs.alertTopicArn }),
    )
    // An e-mail subscription nobody confirmed delivers nothing: its ARN stays `PendingConfirmation`.
    const confirmed = subscriptions.filter((subscription) => subscription.SubscriptionArn?.startsWith('arn:'))
    const pending = subscriptions.filter(
      (subscription) => subscription.SubscriptionArn === 'PendingConfirmation',
    )
    return [
      {
        name: 'alarms exist and notify the alert topic',
        ok: missing.length === 0 && silent.length === 0,
        detail:
          missing.length === 0 && silent.length === 0
            ? `${alarms.length} alarm(s) → ${outputs.alertTopicArn}`
            : [
                missing.length > 0 ? `missing: ${missing.map((name) => `${prefix}${name}`).join(', ')}` : '',
                silent.length > 0 ? `not notifying the topic: ${silent.join(', ')}` : '',
              ]
                .filter(Boolean)
                .join('; '),
      },
      {
        name: 'alert subscription confirmed',
        ok: confirmed.length > 0,
        detail:
          confirmed.length > 0
            ? `${confirmed.length} confirmed (${confirmed.map((subscription) => subscription.Protocol ?? '?').join(', ')})`
            : pending.length > 0
              ? `${pending.length} subscription(s) PendingConfirmation: confirm the e-mail sent to ${pending.map((subscription) => subscription.Endpoint).join(', ')}`
              : `no subscription on ${outputs.alertTopicArn}`,
      },
    ]
  }

  // The security-group check needs the ids the database, cache and load balancer probes discover.
  const first = await Promise.all([
    guardedProbe('network', network),
    guardedProbe('database', database),
    guardedProbe('cache', cache),
    guardedProbe('services', services),
    guardedProbe('load balancer', loadBalancer),
  ])
  const rest = await Promise.all([
    guardedProbe('security groups', securityGroups),
    guardedProbe('encryption', encryption),
    guardedProbe('alerting', alerting),
  ])
  return [...first, ...rest].flat()
}
