import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, describe, expect, it } from 'vitest'
import { readStackSecrets, serviceEnvironment } from '../../src/aws/service-environment.js'
import { parseStackOutputs } from '../../src/aws/stack-outputs.js'
import { ACCOUNT, RAW_OUTPUTS, testRuntime } from './fixtures.js'

const secretsManager = mockClient(SecretsManagerClient)
const ADMIN = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:whatsapp-saas/staging/admin-token-Ab12`
const META = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:whatsapp-saas/staging/meta-Cd34`
const GRAPH = 'http://fake-graph.whatsapp-saas-staging.internal:4004'
const TENANT = {
  organizationId: 'org1',
  keyId: 'key1',
  apiKey: 'wsk_live_synthetic',
  phoneNumberId: '912345',
}

afterAll(() => secretsManager.restore())

describe('the service environment of an AWS stack', () => {
  secretsManager
    .on(GetSecretValueCommand, { SecretId: ADMIN })
    .resolves({ SecretString: 'admin-token-0123456789' })
  secretsManager
    .on(GetSecretValueCommand, { SecretId: META })
    .resolves({ SecretString: '{"appSecret":"app-secret-0123456789","verifyToken":"verify-0123456789"}' })
  const outputs = (extra: Record<string, string>) =>
    parseStackOutputs({ ...RAW_OUTPUTS, adminTokenSecretArn: ADMIN, metaSecretArn: META, ...extra })

  it('reads the admin token and Meta secrets from Secrets Manager', async () => {
    expect(await readStackSecrets(testRuntime(), outputs({}))).toEqual({
      adminToken: 'admin-token-0123456789',
      appSecret: 'app-secret-0123456789',
      verifyToken: 'verify-0123456789',
    })
  })

  it('gives a stack with a synthetic Graph API everything smoke and load need', async () => {
    const staging = outputs({ syntheticGraphApiBaseUrl: GRAPH })
    const secrets = await readStackSecrets(testRuntime(), staging)
    expect(serviceEnvironment(staging, 'https://s.example.com', secrets, TENANT)).toEqual({
      baseUrl: 'https://s.example.com',
      adminToken: 'admin-token-0123456789',
      appSecret: 'app-secret-0123456789',
      verifyToken: 'verify-0123456789',
      apiKey: 'wsk_live_synthetic',
      phoneNumberId: '912345',
    })
  })

  it('gives a stack without one (production) the read-only checks only: no app secret, no number', async () => {
    const production = outputs({})
    const secrets = await readStackSecrets(testRuntime(), production)
    const { phoneNumberId: _none, ...readOnly } = TENANT
    expect(serviceEnvironment(production, 'https://p.example.com', secrets, readOnly)).toEqual({
      baseUrl: 'https://p.example.com',
      verifyToken: 'verify-0123456789',
      apiKey: 'wsk_live_synthetic',
    })
  })
})
