// One deploy per environment: a lock object in the stack's backup bucket written with a conditional put
// (If-None-Match: *), so two runs can never both create it. No DynamoDB table needed.
import { hostname, userInfo } from 'node:os'
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import type { DeployLock, RunContext } from '../core/types.js'
import { DeployLockHeldError, isNotFoundError, wrapAwsError } from './errors.js'
import type { AwsRuntime } from './runtime.js'

export interface LockHolder {
  runId: string
  holder: string
  pid: number
  since: string
}

export const DEFAULT_LOCK_TTL_MS = 3 * 60 * 60_000

export function lockKey(stack: string): string {
  return `locks/deploy-${stack}.json`
}

function isPreconditionFailure(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode
  const name = (error as { name?: string })?.name
  return (
    status === 412 || status === 409 || name === 'PreconditionFailed' || name === 'ConditionalRequestConflict'
  )
}

async function readHolder(runtime: AwsRuntime, bucket: string, key: string): Promise<LockHolder | undefined> {
  try {
    const object = await runtime.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    return JSON.parse((await object.Body?.transformToString()) ?? '{}') as LockHolder
  } catch (error) {
    if (isNotFoundError(error)) return undefined
    throw error
  }
}

function currentHolder(ctx: RunContext, now: number): LockHolder {
  const user = process.env.GITHUB_ACTOR ?? userInfo().username
  const where = process.env.GITHUB_RUN_ID ? `github run ${process.env.GITHUB_RUN_ID}` : hostname()
  return {
    runId: ctx.runId,
    holder: `${user}@${where}`,
    pid: process.pid,
    since: new Date(now).toISOString(),
  }
}

/**
 * Takes the deploy lock of `stack`. A lock older than `ttlMs` is from a run that died without releasing it
 * and is taken over (with a warning); any other holder makes this fail with its name, run and start time.
 */
export async function acquireDeployLock(
  runtime: AwsRuntime,
  bucket: string,
  stack: string,
  ctx: RunContext,
  ttlMs = DEFAULT_LOCK_TTL_MS,
): Promise<DeployLock> {
  const key = lockKey(stack)
  const mine = currentHolder(ctx, runtime.clock.now())
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await runtime.clients.s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: JSON.stringify(mine),
          ContentType: 'application/json',
          IfNoneMatch: '*',
        }),
      )
      ctx.log.info(`deploy lock s3://${bucket}/${key} taken by run ${ctx.runId}`)
      return {
        release: async () => {
          const holder = await readHolder(runtime, bucket, key)
          if (holder?.runId !== ctx.runId) return
          await runtime.clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))
        },
      }
    } catch (error) {
      if (!isPreconditionFailure(error))
        throw wrapAwsError(`taking the deploy lock s3://${bucket}/${key}`, error)
    }
    const holder = await readHolder(runtime, bucket, key)
    if (!holder) continue // released between our put and our read: try again
    const age = runtime.clock.now() - Date.parse(holder.since)
    if (attempt === 0 && Number.isFinite(age) && age > ttlMs) {
      ctx.log.warn(
        `taking over a stale deploy lock of ${holder.holder} (run ${holder.runId}, since ${holder.since})`,
      )
      await runtime.clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))
      continue
    }
    throw new DeployLockHeldError(
      `stack ${stack} is being deployed by ${holder.holder} (run ${holder.runId}, pid ${holder.pid}, since ${holder.since}); ` +
        `wait for it, or if that run is dead delete s3://${bucket}/${key}`,
    )
  }
  throw new DeployLockHeldError(
    `could not take the deploy lock s3://${bucket}/${key}: it keeps changing hands`,
  )
}
