// What smoke and load need beyond the base URL on AWS: the admin token and Meta's app secret and verify
// token, read from the stack's Secrets Manager entries (never logged: the target hands them to the core's
// scrubber). With the app secret the smoke suite's signed-webhook check and the load stage's webhook-ingest
// scenario run (on a phone number id no tenant owns, so nobody is messaged).
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager'
import type { ServiceEnvironment } from '../core/types.js'
import { AwsTargetError } from './errors.js'
import type { AwsRuntime } from './runtime.js'
import type { StackOutputs } from './stack-outputs.js'

async function secretString(runtime: AwsRuntime, secretId: string): Promise<string | undefined> {
  const response = await runtime.clients.secretsManager.send(
    new GetSecretValueCommand({ SecretId: secretId }),
  )
  return response.SecretString
}

export async function serviceEnvironment(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  baseUrl: string,
): Promise<ServiceEnvironment> {
  const env: ServiceEnvironment = { baseUrl }
  if (outputs.adminTokenSecretArn) {
    const token = await secretString(runtime, outputs.adminTokenSecretArn)
    if (token) env.adminToken = token
  }
  if (outputs.metaSecretArn) {
    const text = await secretString(runtime, outputs.metaSecretArn)
    let meta: { appSecret?: unknown; verifyToken?: unknown } = {}
    try {
      meta = JSON.parse(text ?? '{}') as typeof meta
    } catch {
      // The message names the secret, never its content.
      throw new AwsTargetError(`${outputs.metaSecretArn} is not JSON {"appSecret","verifyToken"}`)
    }
    if (typeof meta.appSecret === 'string' && meta.appSecret) env.appSecret = meta.appSecret
    if (typeof meta.verifyToken === 'string' && meta.verifyToken) env.verifyToken = meta.verifyToken
  }
  return env
}
