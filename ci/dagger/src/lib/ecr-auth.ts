// Registry credentials for pushing to ECR from inside the engine. ECR has no static password: a
// 12-hour token is fetched with the caller's (OIDC session) credentials through the AWS SDK the ci
// workspace already depends on, instead of running the AWS CLI in yet another image.
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr'

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
