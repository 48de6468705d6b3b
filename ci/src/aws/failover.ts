// Multi-AZ failover drills and recoveries: RDS reboot with failover to the standby, ElastiCache primary
// failover to the replica; each waited (bounded) until the resource is available again.
import { DescribeReplicationGroupsCommand, TestFailoverCommand } from '@aws-sdk/client-elasticache'
import { DescribeDBInstancesCommand, RebootDBInstanceCommand } from '@aws-sdk/client-rds'
import type { RunContext } from '../core/types.js'
import { AwsTargetError } from './errors.js'
import { type AwsRuntime, waitOptions } from './runtime.js'
import type { StackOutputs } from './stack-outputs.js'
import { waitFor } from './waiting.js'

export async function failoverDatabase(runtime: AwsRuntime, outputs: StackOutputs, ctx: RunContext) {
  const { DBInstances: before } = await runtime.clients.rds.send(
    new DescribeDBInstancesCommand({ DBInstanceIdentifier: outputs.dbInstanceId }),
  )
  if (before?.[0]?.MultiAZ !== true) {
    throw new AwsTargetError(`${outputs.dbInstanceId} is not Multi-AZ: there is no standby to fail over to`)
  }
  const fromZone = before[0].AvailabilityZone
  await runtime.clients.rds.send(
    new RebootDBInstanceCommand({ DBInstanceIdentifier: outputs.dbInstanceId, ForceFailover: true }),
  )
  ctx.log.info(`${outputs.dbInstanceId}: failing over from ${fromZone}`)
  const after = await waitFor(
    async () => {
      const { DBInstances: instances } = await runtime.clients.rds.send(
        new DescribeDBInstancesCommand({ DBInstanceIdentifier: outputs.dbInstanceId }),
      )
      return instances?.[0]?.DBInstanceStatus === 'available' ? instances[0] : undefined
    },
    waitOptions(
      runtime,
      `failover of ${outputs.dbInstanceId}`,
      runtime.timeouts.databaseTimeoutMs,
      ctx.signal,
      ctx.log,
    ),
  )
  return { resource: outputs.dbInstanceId, fromZone, toZone: after.AvailabilityZone }
}

export async function failoverCache(runtime: AwsRuntime, outputs: StackOutputs, ctx: RunContext) {
  const describe = async () =>
    (
      await runtime.clients.elasticache.send(
        new DescribeReplicationGroupsCommand({ ReplicationGroupId: outputs.redisReplicationGroupId }),
      )
    ).ReplicationGroups?.[0]
  const group = await describe()
  const nodeGroupId = group?.NodeGroups?.[0]?.NodeGroupId
  if (!nodeGroupId || group?.AutomaticFailover !== 'enabled') {
    throw new AwsTargetError(`${outputs.redisReplicationGroupId} has no automatic failover to test`)
  }
  await runtime.clients.elasticache.send(
    new TestFailoverCommand({
      ReplicationGroupId: outputs.redisReplicationGroupId,
      NodeGroupId: nodeGroupId,
    }),
  )
  ctx.log.info(`${outputs.redisReplicationGroupId}: primary failover of node group ${nodeGroupId} requested`)
  await waitFor(
    async () => ((await describe())?.Status === 'available' ? true : undefined),
    waitOptions(
      runtime,
      `failover of ${outputs.redisReplicationGroupId}`,
      runtime.timeouts.databaseTimeoutMs,
      ctx.signal,
      ctx.log,
    ),
  )
  return { resource: outputs.redisReplicationGroupId, nodeGroupId }
}
