import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, describe, expect, it } from 'vitest'
import { createAwsTarget } from '../../src/aws/target.js'
import { ACCOUNT, RAW_OUTPUTS, testContext, testRuntime } from './fixtures.js'

const secretsManager = mockClient(SecretsManagerClient)
const ADMIN = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:whatsapp-saas/staging/admin-token-Ab12`
const META = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:whatsapp-saas/staging/meta-Cd34`

afterAll(() => secretsManager.restore())

describe('the service environment of an AWS stack', () => {
  it('gives smoke and load the admin token and Meta secrets from Secrets Manager, and has them scrubbed', async () => {
    secretsManager
      .on(GetSecretValueCommand, { SecretId: ADMIN })
      .resolves({ SecretString: 'admin-token-0123456789' })
    secretsManager
      .on(GetSecretValueCommand, { SecretId: META })
      .resolves({ SecretString: '{"appSecret":"app-secret-0123456789","verifyToken":"verify-0123456789"}' })
    const runtime = testRuntime()
    const target = await createAwsTarget({
      stack: 'staging',
      clients: runtime.clients,
      clock: runtime.clock,
      outputs: { ...RAW_OUTPUTS, adminTokenSecretArn: ADMIN, metaSecretArn: META },
    })
    const ctx = testContext()

    expect(await target.environment!(ctx)).toEqual({
      baseUrl: 'https://staging.example.com',
      adminToken: 'admin-token-0123456789',
      appSecret: 'app-secret-0123456789',
      verifyToken: 'verify-0123456789',
    })
    expect(target.secretValues!()).toEqual(
      expect.arrayContaining(['admin-token-0123456789', 'app-secret-0123456789', 'verify-0123456789']),
    )
    expect(ctx.log.lines.join('\n')).not.toContain('0123456789')
  })
})
