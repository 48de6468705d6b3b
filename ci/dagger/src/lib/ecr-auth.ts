// Registry credentials for pushing to ECR from inside the engine. ECR has no static password: a
// 12-hour token is fetched with the caller's (OIDC session) credentials through the AWS SDK the ci
// workspace already depends on, instead of running the AWS CLI in yet another image.
import { DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr'

export interface RegistryAuth {
  /** Registry host, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com`. */
  registry: string
  username: string
  password: string
}

export async function ecrRegistryAuth(client: ECRClient): Promise<RegistryAuth> {
  const response = await client.send(new GetAuthorizationTokenCommand({}))
  const data = response.authorizationData?.[0]
  if (!data?.authorizationToken || !data.proxyEndpoint) {
    throw new Error(
      'ECR returned no authorization data (does the deploy role allow ecr:GetAuthorizationToken?)',
    )
  }
  const decoded = Buffer.from(data.authorizationToken, 'base64').toString('utf8')
  const separator = decoded.indexOf(':')
  if (separator <= 0) throw new Error('ECR authorization token is not "<user>:<password>"')
  return {
    registry: new URL(data.proxyEndpoint).host,
    username: decoded.slice(0, separator),
    password: decoded.slice(separator + 1),
  }
}

export interface StaticCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

export function ecrClient(region: string, credentials: StaticCredentials): ECRClient {
  return new ECRClient({ region, credentials })
}

/** `<account>.dkr.ecr.<region>.amazonaws.com/<name>` → `<name>` (which may contain slashes). */
export function ecrRepositoryName(repository: string): string {
  const match = /^(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/([a-z0-9._/-]+)$/.exec(repository)
  if (!match) throw new Error(`"${repository}" is not an ECR repository URL`)
  return match[3]!
}

/**
 * The digest reference of `repository:tag` when ECR already holds it, else undefined. The repositories
 * have immutable tags, so pushing a tag again fails: a re-run of publish for the same revision (the tag
 * is the git SHA) returns the image already there, as the AWS target's own publish does.
 */
export async function publishedImage(
  client: ECRClient,
  repository: string,
  tag: string,
): Promise<string | undefined> {
  try {
    const response = await client.send(
      new DescribeImagesCommand({
        repositoryName: ecrRepositoryName(repository),
        imageIds: [{ imageTag: tag }],
      }),
    )
    const digest = response.imageDetails?.[0]?.imageDigest
    return digest ? `${repository}@${digest}` : undefined
  } catch (error) {
    if ((error as { name?: string }).name === 'ImageNotFoundException') return undefined
    throw error
  }
}
