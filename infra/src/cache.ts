// ElastiCache replication group (Redis OSS or Valkey): one primary and replicas across both AZs with
// automatic failover, encrypted at rest (data key) and in transit, AUTH token from Secrets Manager.
import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import { Concern } from './concern.js'
import type { StackConfig } from './config.js'
import { REDIS_PORT } from './security-groups.js'

/**
 * BullMQ requires `noeviction`: the engine's default group (`volatile-lru`) evicts queue keys that
 * carry a TTL under memory pressure, so jobs stall or run twice (a duplicate WhatsApp send).
 */
export const CACHE_MAXMEMORY_POLICY = 'noeviction'

/** Parameter group family of an engine version: `redis7` (7.0, 7.1), `valkey7` (7.2), `valkey8`. */
export const cacheParameterFamily = (engine: 'redis' | 'valkey', engineVersion: string): string =>
  `${engine}${engineVersion.split('.')[0]}`

export interface Cache {
  replicationGroup: aws.elasticache.ReplicationGroup
  parameterGroup: aws.elasticache.ParameterGroup
  /** Member cluster ids (`<group>-001`, ...): CloudWatch's per-node dimension. */
  memberClusterIds: string[]
}

export function createCache(
  config: StackConfig,
  args: {
    subnetIds: pulumi.Input<string>[]
    securityGroupId: pulumi.Input<string>
    kmsKeyArn: pulumi.Input<string>
    authToken: pulumi.Output<string>
    secret: aws.secretsmanager.Secret
  },
): Cache {
  const concern = new Concern('Cache', config)
  const p = config.namePrefix
  const c = config.cache
  const groupId = `${p}-${c.engine}`.slice(0, 40)
  const tags = { ...config.tags, Name: groupId }

  const subnetGroup = new aws.elasticache.SubnetGroup(
    `${p}-cache-subnets`,
    {
      name: `${p}-cache`,
      subnetIds: args.subnetIds,
      description: 'Database tier: no route out of the VPC',
      tags,
    },
    concern.child(),
  )
  const family = cacheParameterFamily(c.engine, c.engineVersion)
  // The family is in the name: a new engine family gets a new group, created before the cache moves to it.
  const parameterGroup = new aws.elasticache.ParameterGroup(
    `${p}-${family}-params`,
    {
      name: `${p}-${family}`,
      family,
      description: `${p} ${c.engine}: maxmemory-policy ${CACHE_MAXMEMORY_POLICY} (BullMQ)`,
      parameters: [{ name: 'maxmemory-policy', value: CACHE_MAXMEMORY_POLICY }],
      tags,
    },
    concern.child(),
  )
  const replicationGroup = new aws.elasticache.ReplicationGroup(
    `${p}-cache`,
    {
      replicationGroupId: groupId,
      description: `${p} ${c.engine} (BullMQ queues, rate limits)`,
      engine: c.engine,
      engineVersion: c.engineVersion,
      nodeType: c.nodeType,
      numCacheClusters: c.nodeCount,
      port: REDIS_PORT,
      parameterGroupName: parameterGroup.name,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      atRestEncryptionEnabled: true,
      kmsKeyId: args.kmsKeyArn,
      transitEncryptionEnabled: true,
      authToken: args.authToken,
      subnetGroupName: subnetGroup.name,
      securityGroupIds: [args.securityGroupId],
      snapshotWindow: '02:00-03:00',
      snapshotRetentionLimit: c.snapshotRetentionDays,
      maintenanceWindow: 'sun:05:00-sun:06:00',
      autoMinorVersionUpgrade: true,
      applyImmediately: false,
      tags,
    },
    concern.child(),
  )

  new aws.secretsmanager.SecretVersion(
    `${p}-redis-secret-version`,
    {
      secretId: args.secret.id,
      secretString: pulumi.jsonStringify({
        authToken: args.authToken,
        host: replicationGroup.primaryEndpointAddress,
        port: REDIS_PORT,
        // rediss: TLS is mandatory with transit encryption on.
        url: pulumi.interpolate`rediss://default:${args.authToken}@${replicationGroup.primaryEndpointAddress}:${REDIS_PORT}`,
      }),
    },
    concern.child(),
  )
  const memberClusterIds = Array.from(
    { length: c.nodeCount },
    (_, i) => `${groupId}-${String(i + 1).padStart(3, '0')}`,
  )
  return { replicationGroup, parameterGroup, memberClusterIds }
}
