// What ties the stacks together around one shared image repository:
// - position tags (`<stack>-current`, `<stack>-previous`) moved onto the digests a stack serves and can roll
//   back to; the repository's lifecycle never expires an image carrying one (infra/src/image-repository.ts);
// - the record of each digest the repository's owner stack (staging) passed, with its smoke and load
//   results, at `s3://<releaseEvidenceBucket>/releases/<digest>.json`: a promotion of a digest without one
//   is refused, and the promotion's report carries it.

import { BatchGetImageCommand, PutImageCommand } from '@aws-sdk/client-ecr'
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import type { Artifact, RunContext } from '../core/types.js'
import { AwsTargetError, isNotFoundError, wrapAwsError } from './errors.js'
import { ecrRepositoryName } from './image-reference.js'
import type { AwsRuntime } from './runtime.js'
import type { StackOutputs } from './stack-outputs.js'

export const RELEASES_PREFIX = 'releases'

export interface ReleaseRecord {
  stack: string
  runId: string
  digest: string
  version: string
  passedAt: string
  smoke: Record<string, unknown>
  load: Record<string, unknown> | null
}

/** The stack owning the shared repository (staging); a stack without the output owns its own. */
export function repositoryOwner(outputs: StackOutputs, stack: string): string {
  return outputs.imageRepositoryOwner ?? stack
}

export function releaseKey(digest: string): string {
  return `${RELEASES_PREFIX}/${digest.replace(':', '-')}.json`
}

/** Puts `tag` on the image `digest` (re-putting its manifest); a tag already there is left as it is. */
export async function tagImage(
  runtime: AwsRuntime,
  repositoryUrl: string,
  digest: string,
  tag: string,
): Promise<void> {
  const repositoryName = ecrRepositoryName(repositoryUrl)
  const found = await runtime.clients.ecr.send(
    new BatchGetImageCommand({ repositoryName, imageIds: [{ imageDigest: digest }] }),
  )
  const image = found.images?.[0]
  if (!image?.imageManifest)
    throw new AwsTargetError(`${repositoryUrl}@${digest} is not in ECR: cannot tag it ${tag}`)
  try {
    await runtime.clients.ecr.send(
      new PutImageCommand({
        repositoryName,
        imageManifest: image.imageManifest,
        ...(image.imageManifestMediaType ? { imageManifestMediaType: image.imageManifestMediaType } : {}),
        imageTag: tag,
        imageDigest: digest,
      }),
    )
  } catch (error) {
    // ECR answers this when the tag already points at that very manifest.
    if ((error as { name?: string }).name !== 'ImageAlreadyExistsException') throw error
  }
}

/**
 * Marks what `stack` serves now (`<stack>-current`) and what it can roll back to (`<stack>-previous`), so the
 * repository's lifecycle keeps both however many images are pushed meanwhile. A failure is a loud warning,
 * not a failed deploy: what serves is already in place, and the lifecycle keeps the 30 newest images anyway.
 */
export async function markServing(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  stack: string,
  current: Artifact,
  previous: Artifact | undefined,
  ctx: RunContext,
): Promise<void> {
  try {
    if (previous && previous.digest !== current.digest)
      await tagImage(runtime, outputs.ecrRepositoryUrl, previous.digest, `${stack}-previous`)
    await tagImage(runtime, outputs.ecrRepositoryUrl, current.digest, `${stack}-current`)
    ctx.log.info(
      `tagged ${current.digest.slice(0, 19)} ${stack}-current${previous && previous.digest !== current.digest ? `, ${previous.digest.slice(0, 19)} ${stack}-previous` : ''}`,
    )
  } catch (error) {
    ctx.log.warn(
      `${wrapAwsError(`tagging the images ${stack} serves`, error).message}: until they carry ${stack}-current/${stack}-previous the ECR lifecycle may expire them`,
    )
  }
}

/** Records that the owner stack passed `artifact` (smoke and load), for the promotions of that digest. */
export async function recordPassedRelease(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  record: ReleaseRecord,
): Promise<string> {
  const bucket = outputs.releaseEvidenceBucket ?? outputs.backupBucket
  const key = releaseKey(record.digest)
  await runtime.clients.s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: JSON.stringify(record),
      ContentType: 'application/json',
      // Not secret; SSE-S3 lets the promoting stacks read it without the owner's backup key.
      ServerSideEncryption: 'AES256',
    }),
  )
  return `s3://${bucket}/${key}`
}

/** The owner stack's record for `digest`, or undefined when it never passed there. */
export async function readPassedRelease(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  digest: string,
): Promise<ReleaseRecord | undefined> {
  const bucket = outputs.releaseEvidenceBucket ?? outputs.backupBucket
  try {
    const object = await runtime.clients.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: releaseKey(digest) }),
    )
    const record = JSON.parse((await object.Body?.transformToString()) ?? '{}') as ReleaseRecord
    return record.digest === digest ? record : undefined
  } catch (error) {
    if (isNotFoundError(error) || (error as { name?: string }).name === 'NoSuchKey') return undefined
    throw wrapAwsError(`reading s3://${bucket}/${releaseKey(digest)}`, error)
  }
}
