// Customer-managed KMS keys with yearly rotation. Three keys, one per trust boundary: data at rest
// (RDS, ElastiCache, Secrets Manager, ECR), backups (S3, read by the task role), logs (CloudWatch
// Logs needs its service principal in the key policy, which the other keys should not carry).
import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import { Concern } from './concern.js'
import type { StackConfig } from './config.js'

export interface Keys {
  data: aws.kms.Key
  backup: aws.kms.Key
  logs: aws.kms.Key
}

export function createKeys(config: StackConfig, accountId: pulumi.Input<string>): Keys {
  const concern = new Concern('Keys', config)
  const p = config.namePrefix
  const rootStatement = pulumi.interpolate`arn:aws:iam::${accountId}:root`
  const keyPolicy = (extra: object[] = []) =>
    pulumi.jsonStringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'AccountAdministers',
          Effect: 'Allow',
          Principal: { AWS: rootStatement },
          Action: 'kms:*',
          Resource: '*',
        },
        ...extra,
      ],
    })

  const key = (name: string, description: string, policy: pulumi.Output<string>) => {
    const k = new aws.kms.Key(
      `${p}-${name}-key`,
      {
        description,
        enableKeyRotation: true,
        deletionWindowInDays: 30,
        policy,
        tags: { ...config.tags, Name: `${p}-${name}` },
      },
      concern.child(),
    )
    new aws.kms.Alias(
      `${p}-${name}-alias`,
      { name: `alias/${p}-${name}`, targetKeyId: k.keyId },
      concern.child(),
    )
    return k
  }

  return {
    data: key('data', `${p}: RDS, ElastiCache, Secrets Manager and ECR`, keyPolicy()),
    backup: key('backup', `${p}: database backups in S3`, keyPolicy()),
    logs: key(
      'logs',
      `${p}: CloudWatch Logs`,
      keyPolicy([
        {
          Sid: 'CloudWatchLogsUsesKey',
          Effect: 'Allow',
          Principal: { Service: `logs.${config.region}.amazonaws.com` },
          Action: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
          Resource: '*',
          Condition: {
            ArnLike: {
              'kms:EncryptionContext:aws:logs:arn': pulumi.interpolate`arn:aws:logs:${config.region}:${accountId}:log-group:*`,
            },
          },
        },
      ]),
    ),
  }
}
