// Secrets Manager entries the tasks read at start (ECS injects them; they never appear as plain
// environment values in a task definition). Generated values (database password, Redis AUTH token,
// admin token) come from @pulumi/random and are kept as Pulumi secrets in state; Meta's credentials
// come from outside, so Pulumi creates only the container and operators put the value.
import * as aws from '@pulumi/aws'
import type * as pulumi from '@pulumi/pulumi'
import * as random from '@pulumi/random'
import { Concern } from './concern.js'
import { PROJECT, type StackConfig } from './config.js'

export interface AppSecrets {
  database: aws.secretsmanager.Secret
  redis: aws.secretsmanager.Secret
  adminToken: aws.secretsmanager.Secret
  /** AES-256-GCM key (32 bytes, base64) the service encrypts access tokens and webhook secrets with. */
  encryptionKey: aws.secretsmanager.Secret
  meta: aws.secretsmanager.Secret
  databasePassword: pulumi.Output<string>
  redisAuthToken: pulumi.Output<string>
}

/** JSON keys operators must put in the `meta` secret. */
export const META_SECRET_KEYS = ['appSecret', 'verifyToken'] as const

export function createSecrets(config: StackConfig, kmsKeyArn: pulumi.Input<string>): AppSecrets {
  const concern = new Concern('Secrets', config)
  const p = config.namePrefix
  const secret = (name: string, description: string) =>
    new aws.secretsmanager.Secret(
      `${p}-${name}-secret`,
      {
        // A prefix, not a fixed name: a deleted secret keeps its name for its whole recovery window, so a
        // fixed name makes `destroy` then `up` fail for up to 30 days. Readers use the ARN outputs.
        namePrefix: `${PROJECT}/${config.stack}/${name}-`,
        description,
        kmsKeyId: kmsKeyArn,
        // Kept (not 0) in every stack: a destroyed stack's credentials stay recoverable.
        recoveryWindowInDays: config.isProduction ? 30 : 7,
        tags: { ...config.tags, Name: `${p}-${name}` },
      },
      concern.child(),
    )
  // URL-safe alphabets: both values end up inside connection URLs.
  const databasePassword = new random.RandomPassword(
    `${p}-database-password`,
    { length: 40, special: false },
    concern.child(),
  )
  const redisAuthToken = new random.RandomPassword(
    `${p}-redis-auth-token`,
    { length: 64, special: false },
    concern.child(),
  )
  const adminTokenValue = new random.RandomPassword(
    `${p}-admin-token`,
    { length: 48, special: false },
    concern.child(),
  )

  const adminToken = secret('admin-token', 'Platform admin bearer token of the API')
  new aws.secretsmanager.SecretVersion(
    `${p}-admin-token-version`,
    {
      secretId: adminToken.id,
      secretString: adminTokenValue.result,
    },
    concern.child(),
  )
  const encryptionKey = secret(
    'encryption-key',
    'AES-256-GCM key of the API for data at rest (base64, 32 bytes)',
  )
  new aws.secretsmanager.SecretVersion(
    `${p}-encryption-key-version`,
    {
      secretId: encryptionKey.id,
      secretString: new random.RandomBytes(`${p}-encryption-key-bytes`, { length: 32 }, concern.child())
        .base64,
    },
    concern.child(),
  )
  return {
    encryptionKey,
    database: secret('database', 'PostgreSQL master credentials and connection URL (JSON)'),
    redis: secret('redis', 'Redis AUTH token and connection URL (JSON)'),
    adminToken,
    meta: secret('meta', `Meta app credentials (JSON: ${META_SECRET_KEYS.join(', ')}), set by operators`),
    databasePassword: databasePassword.result,
    redisAuthToken: redisAuthToken.result,
  }
}
