// Operator backups and restores on AWS: a logical dump through the image's ops commands (one-off tasks),
// or RDS snapshots and point-in-time restores into a NEW instance (the serving one is never overwritten).
import {
  CreateDBSnapshotCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBInstanceCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
} from '@aws-sdk/client-rds'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import { GateError } from '../core/gates.js'
import { backupAndVerify } from '../core/migration-flow.js'
import type { RunContext } from '../core/types.js'
import { AwsTargetError } from './errors.js'
import { type AwsRuntime, waitOptions } from './runtime.js'
import { backupStoreLocation, type StackOutputs } from './stack-outputs.js'
import type { AwsTarget } from './target.js'
import { waitFor } from './waiting.js'

const MANIFEST_SUFFIX = '.manifest.json'

export interface ListedBackup {
  id: string
  at: string
}

/** Dumps in the backup bucket, newest first (bounded to `limit`), by their manifests. */
export async function listBackups(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  limit = 20,
): Promise<ListedBackup[]> {
  const store = backupStoreLocation(outputs)
  const found: ListedBackup[] = []
  let token: string | undefined
  // Bounded: 20 pages of 1,000 keys is far beyond 30 days of daily dumps.
  for (let page = 0; page < 20; page++) {
    const response = await runtime.clients.s3.send(
      new ListObjectsV2Command({
        Bucket: store.bucket,
        Prefix: store.prefix,
        ContinuationToken: token,
      }),
    )
    for (const object of response.Contents ?? []) {
      if (!object.Key?.endsWith(MANIFEST_SUFFIX)) continue
      found.push({
        id: object.Key.slice(store.prefix.length, -MANIFEST_SUFFIX.length),
        at: object.LastModified?.toISOString() ?? '',
      })
    }
    token = response.NextContinuationToken
    if (!token) break
  }
  return found.sort((a, b) => b.id.localeCompare(a.id)).slice(0, limit)
}

/** `20261125-010203`: sortable, valid in RDS identifiers. */
export function timestampId(now: number): string {
  return new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
}

/** Dump with the serving image's `backup`, then `verify-backup` of that dump (the pipeline's own flow). */
export async function manualBackup(
  target: AwsTarget,
  ctx: RunContext,
): Promise<{ backupId: string; verified: boolean }> {
  const artifact = await target.current(ctx)
  if (!artifact) throw new AwsTargetError('no version is serving: nothing to run the backup command with')
  try {
    const { id } = await backupAndVerify(target, artifact, ctx, target.runtime.clock)
    return { backupId: id, verified: true }
  } catch (error) {
    if (error instanceof GateError) throw new AwsTargetError(error.message)
    throw error
  }
}

/** RDS CreateDBSnapshot, waited until available (bounded). */
export async function snapshotDatabase(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  ctx: RunContext,
): Promise<{ snapshotId: string }> {
  const snapshotId = `${outputs.dbInstanceId}-manual-${timestampId(runtime.clock.now())}`
  await runtime.clients.rds.send(
    new CreateDBSnapshotCommand({
      DBInstanceIdentifier: outputs.dbInstanceId,
      DBSnapshotIdentifier: snapshotId,
    }),
  )
  ctx.log.info(`snapshot ${snapshotId} requested`)
  await waitFor(
    async () => {
      const { DBSnapshots: snapshots } = await runtime.clients.rds.send(
        new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: snapshotId }),
      )
      const snapshot = snapshots?.[0]
      if (snapshot?.Status === 'failed') throw new AwsTargetError(`snapshot ${snapshotId} failed`)
      if (snapshot?.Status === 'available') return snapshot
      ctx.log.info(
        `snapshot ${snapshotId}: ${snapshot?.Status ?? 'pending'} ${snapshot?.PercentProgress ?? 0} %`,
      )
      return undefined
    },
    waitOptions(runtime, `snapshot ${snapshotId}`, runtime.timeouts.databaseTimeoutMs, ctx.signal, ctx.log),
  )
  return { snapshotId }
}

/** A forced restore overwrites the database: a verified dump of what is there now is taken first. */
export async function restoreBackup(
  target: AwsTarget,
  backupId: string,
  force: boolean,
  ctx: RunContext,
): Promise<{ restored: string; safetyBackupId?: string }> {
  const artifact = await target.current(ctx)
  if (!artifact) throw new AwsTargetError('no version is serving: nothing to run the restore command with')
  let safetyBackupId: string | undefined
  if (force) {
    safetyBackupId = (await manualBackup(target, ctx)).backupId
    ctx.log.info(`safety backup ${safetyBackupId} taken before overwriting the database`)
  }
  const restore = await target.runOps({ name: 'restore', backupId, force }, artifact, ctx)
  if (restore.exitCode !== 0) {
    throw new AwsTargetError(
      `restore of ${backupId} failed (exit ${restore.exitCode}): ${restore.output.at(-1) ?? ''}`,
    )
  }
  return { restored: backupId, safetyBackupId }
}

async function waitForInstance(runtime: AwsRuntime, instanceId: string, ctx: RunContext) {
  return waitFor(
    async () => {
      const { DBInstances: instances } = await runtime.clients.rds.send(
        new DescribeDBInstancesCommand({ DBInstanceIdentifier: instanceId }),
      )
      const instance = instances?.[0]
      if (instance?.DBInstanceStatus === 'available') return instance
      if (instance?.DBInstanceStatus === 'failed' || instance?.DBInstanceStatus === 'incompatible-restore') {
        throw new AwsTargetError(`restored instance ${instanceId} is ${instance.DBInstanceStatus}`)
      }
      ctx.log.info(`${instanceId}: ${instance?.DBInstanceStatus ?? 'creating'}`)
      return undefined
    },
    waitOptions(
      runtime,
      `restored instance ${instanceId}`,
      runtime.timeouts.databaseTimeoutMs,
      ctx.signal,
      ctx.log,
    ),
  )
}

export interface RestoredInstance {
  instanceId: string
  endpoint: string
  source: string
}

/**
 * Restores a snapshot, or the source instance at a point in time, into a new instance with the source's
 * network, security groups, class, parameter group and Multi-AZ setting.
 */
export async function restoreDatabaseInstance(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  from: { snapshotId: string } | { pointInTime: Date | 'latest' },
  ctx: RunContext,
): Promise<RestoredInstance> {
  const { DBInstances: instances } = await runtime.clients.rds.send(
    new DescribeDBInstancesCommand({ DBInstanceIdentifier: outputs.dbInstanceId }),
  )
  const source = instances?.[0]
  if (!source) throw new AwsTargetError(`source instance ${outputs.dbInstanceId} not found`)
  const instanceId = `${outputs.dbInstanceId}-restore-${timestampId(runtime.clock.now())}`.slice(0, 63)
  const shape = {
    DBInstanceClass: source.DBInstanceClass,
    DBSubnetGroupName: source.DBSubnetGroup?.DBSubnetGroupName,
    VpcSecurityGroupIds: (source.VpcSecurityGroups ?? [])
      .map((group) => group.VpcSecurityGroupId!)
      .filter(Boolean),
    DBParameterGroupName: source.DBParameterGroups?.[0]?.DBParameterGroupName,
    MultiAZ: source.MultiAZ,
    PubliclyAccessible: false,
    DeletionProtection: true,
    CopyTagsToSnapshot: true,
  }
  let description: string
  if ('snapshotId' in from) {
    await runtime.clients.rds.send(
      new RestoreDBInstanceFromDBSnapshotCommand({
        ...shape,
        DBInstanceIdentifier: instanceId,
        DBSnapshotIdentifier: from.snapshotId,
      }),
    )
    description = `snapshot ${from.snapshotId}`
  } else {
    await runtime.clients.rds.send(
      new RestoreDBInstanceToPointInTimeCommand({
        ...shape,
        SourceDBInstanceIdentifier: outputs.dbInstanceId,
        TargetDBInstanceIdentifier: instanceId,
        ...(from.pointInTime === 'latest'
          ? { UseLatestRestorableTime: true }
          : { RestoreTime: from.pointInTime }),
      }),
    )
    description = `${outputs.dbInstanceId} at ${from.pointInTime === 'latest' ? 'the latest restorable time' : from.pointInTime.toISOString()}`
  }
  ctx.log.info(`restoring ${description} into ${instanceId}`)
  const restored = await waitForInstance(runtime, instanceId, ctx)
  return {
    instanceId,
    endpoint: `${restored.Endpoint?.Address ?? '?'}:${restored.Endpoint?.Port ?? 5432}`,
    source: description,
  }
}

async function renameInstance(runtime: AwsRuntime, from: string, to: string, ctx: RunContext): Promise<void> {
  await runtime.clients.rds.send(
    new ModifyDBInstanceCommand({
      DBInstanceIdentifier: from,
      NewDBInstanceIdentifier: to,
      ApplyImmediately: true,
    }),
  )
  ctx.log.info(`renaming ${from} → ${to}`)
  await waitFor(
    async () => {
      try {
        const { DBInstances: instances } = await runtime.clients.rds.send(
          new DescribeDBInstancesCommand({ DBInstanceIdentifier: to }),
        )
        return instances?.[0]?.DBInstanceStatus === 'available' ? true : undefined
      } catch (error) {
        // The new name appears only once RDS has applied the rename.
        if ((error as { name?: string }).name === 'DBInstanceNotFoundFault') return undefined
        throw error
      }
    },
    waitOptions(
      runtime,
      `rename of ${from} to ${to}`,
      runtime.timeouts.databaseTimeoutMs,
      ctx.signal,
      ctx.log,
    ),
  )
}

/**
 * Puts a restored instance in place of the serving one by swapping identifiers: the serving instance is
 * renamed aside (kept, deletion-protected), the restored one takes its identifier and so its endpoint, and
 * DATABASE_URL stays valid. The caller restarts the services afterwards.
 */
export async function switchDatabase(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  restoredId: string,
  ctx: RunContext,
): Promise<{ serving: string; replacedBy: string; keptAs: string }> {
  const { DBInstances: restored } = await runtime.clients.rds.send(
    new DescribeDBInstancesCommand({ DBInstanceIdentifier: restoredId }),
  )
  if (restored?.[0]?.DBInstanceStatus !== 'available') {
    throw new AwsTargetError(
      `${restoredId} is ${restored?.[0]?.DBInstanceStatus ?? 'missing'}, not available`,
    )
  }
  const keptAs = `${outputs.dbInstanceId}-replaced-${timestampId(runtime.clock.now())}`.slice(0, 63)
  await renameInstance(runtime, outputs.dbInstanceId, keptAs, ctx)
  await renameInstance(runtime, restoredId, outputs.dbInstanceId, ctx)
  return { serving: outputs.dbInstanceId, replacedBy: restoredId, keptAs }
}
