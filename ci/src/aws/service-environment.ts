// What smoke and load need beyond the base URL on AWS. The admin token and Meta's app secret and verify
// token are read from the stack's Secrets Manager entries (never logged: the target hands every value to
// the core's scrubber); with the admin token the stack's synthetic tenant is ensured and this run's API key
// minted (synthetic-tenant.ts).
//
// A stack with a synthetic Graph API (staging) gets everything: the key with write scopes, the synthetic
// phone number and the app secret, so smoke runs all its checks (signed webhooks posted to the service,
// a message sent and seen delivered through the fake Graph API) and load runs every scenario. A stack
// without one (production) gets the read-only checks only: a key that can only read messages and the
// verify token of the webhook handshake (a GET); no app secret, since a signed webhook is stored.
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager'
import type { ServiceEnvironment } from '../core/types.js'
import { AwsTargetError } from './errors.js'
import type { AwsRuntime } from './runtime.js'
import type { StackOutputs } from './stack-outputs.js'
import { ensureSyntheticTenant, type SyntheticTenant } from './synthetic-tenant.js'

async function secretString(runtime: AwsRuntime, secretId: string): Promise<string | undefined> {
  const response = await runtime.clients.secretsManager.send(
    new GetSecretValueCommand({ SecretId: secretId }),
  )
  return response.SecretString
}

export interface StackSecrets {
  adminToken?: string
  appSecret?: string
  verifyToken?: string
}

export async function readStackSecrets(runtime: AwsRuntime, outputs: StackOutputs): Promise<StackSecrets> {
  const secrets: StackSecrets = {}
  if (outputs.adminTokenSecretArn) {
    const token = await secretString(runtime, outputs.adminTokenSecretArn)
    if (token) secrets.adminToken = token
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
    if (typeof meta.appSecret === 'string' && meta.appSecret) secrets.appSecret = meta.appSecret
    if (typeof meta.verifyToken === 'string' && meta.verifyToken) secrets.verifyToken = meta.verifyToken
  }
  return secrets
}

/** The environment handed to smoke and load, from the stack's secrets and its synthetic tenant. */
export function serviceEnvironment(
  outputs: StackOutputs,
  baseUrl: string,
  secrets: StackSecrets,
  tenant: SyntheticTenant | undefined,
): ServiceEnvironment {
  const env: ServiceEnvironment = { baseUrl }
  if (secrets.verifyToken) env.verifyToken = secrets.verifyToken
  if (tenant) env.apiKey = tenant.apiKey
  if (!outputs.syntheticGraphApiBaseUrl) return env
  if (secrets.adminToken) env.adminToken = secrets.adminToken
  if (secrets.appSecret) env.appSecret = secrets.appSecret
  if (tenant?.phoneNumberId) env.phoneNumberId = tenant.phoneNumberId
  return env
}

export { ensureSyntheticTenant }
