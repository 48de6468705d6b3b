// publish: the packaged image pushed to ECR under its git SHA tag, then carried as `ref@sha256:digest`
// (the digest read back from ECR: a tag is never what gets deployed).
import {
  DescribeImagesCommand,
  GetAuthorizationTokenCommand,
  type ImageIdentifier,
} from '@aws-sdk/client-ecr'
import type { Artifact, RunContext } from '../core/types.js'
import type { ContainerCli } from './container-cli.js'
import { AwsTargetError, wrapAwsError } from './errors.js'
import { ecrRegistryHost, ecrRepositoryName, isDigest, versionTag } from './image-reference.js'
import type { AwsRuntime } from './runtime.js'
import type { StackOutputs } from './stack-outputs.js'

/** The image in ECR identified by tag or digest, or undefined when absent. */
export async function findEcrImage(
  runtime: AwsRuntime,
  repositoryUrl: string,
  imageId: ImageIdentifier,
): Promise<{ digest: string; tags: string[] } | undefined> {
  try {
    const response = await runtime.clients.ecr.send(
      new DescribeImagesCommand({ repositoryName: ecrRepositoryName(repositoryUrl), imageIds: [imageId] }),
    )
    const detail = response.imageDetails?.[0]
    return detail?.imageDigest ? { digest: detail.imageDigest, tags: detail.imageTags ?? [] } : undefined
  } catch (error) {
    if ((error as { name?: string }).name === 'ImageNotFoundException') return undefined
    throw wrapAwsError(`looking up ${JSON.stringify(imageId)} in ${repositoryUrl}`, error)
  }
}

/** The version (git SHA tag) of an image in ECR, or the short digest when it carries no tag. */
export async function versionOf(runtime: AwsRuntime, repositoryUrl: string, digest: string): Promise<string> {
  const image = await findEcrImage(runtime, repositoryUrl, { imageDigest: digest })
  return (image && versionTag(image.tags)) ?? digest.slice('sha256:'.length, 'sha256:'.length + 12)
}

async function registryPassword(runtime: AwsRuntime): Promise<{ username: string; password: string }> {
  const response = await runtime.clients.ecr.send(new GetAuthorizationTokenCommand({}))
  const token = response.authorizationData?.[0]?.authorizationToken
  if (!token) throw new AwsTargetError('ECR GetAuthorizationToken returned no token')
  const decoded = Buffer.from(token, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

/**
 * Publishes `artifact` (a local image `<ref>:<version>`) to the stack's repository. An artifact already in
 * that repository by digest (a promotion) is only checked; a tag already pushed (ECR tags are immutable)
 * is reused with its digest.
 */
export async function publishImage(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  artifact: Artifact,
  containerCli: () => Promise<ContainerCli>,
  ctx: RunContext,
): Promise<Artifact> {
  const repository = outputs.ecrRepositoryUrl
  if (artifact.ref === repository && isDigest(artifact.digest)) {
    const existing = await findEcrImage(runtime, repository, { imageDigest: artifact.digest })
    if (!existing)
      throw new AwsTargetError(`${repository}@${artifact.digest} is not in ECR: publish it first`)
    ctx.log.info(`${repository}@${artifact.digest} already in ECR`)
    return artifact
  }
  const tag = artifact.version
  const already = await findEcrImage(runtime, repository, { imageTag: tag })
  if (already) {
    ctx.log.info(`${repository}:${tag} already pushed (tags are immutable): ${already.digest}`)
    return { ref: repository, digest: already.digest, version: tag }
  }
  const source = `${artifact.ref}:${artifact.version}`
  const target = `${repository}:${tag}`
  if (ctx.dryRun) {
    ctx.log.info(`dry-run: would push ${source} as ${target}`)
    return { ref: repository, digest: artifact.digest, version: tag }
  }
  const cli = await containerCli()
  const { username, password } = await registryPassword(runtime)
  await cli.login(ecrRegistryHost(repository), username, password)
  ctx.log.info(`logged in to ${ecrRegistryHost(repository)} with ${cli.name}`)
  await cli.tag(source, target)
  await cli.push(target)
  const pushed = await findEcrImage(runtime, repository, { imageTag: tag })
  if (!pushed) throw new AwsTargetError(`pushed ${target} but ECR does not list it`)
  ctx.log.info(`pushed ${target} → ${repository}@${pushed.digest}`)
  return { ref: repository, digest: pushed.digest, version: tag }
}
