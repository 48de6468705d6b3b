// Backup bucket (KMS, versioning, no public access, TLS only, lifecycle). The image repository is in
// image-repository.ts.
import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import { Concern } from './concern.js'
import type { StackConfig } from './config.js'

export interface Storage {
  backupBucket: aws.s3.Bucket
  /** `s3://<bucket>/backups`: where the ops commands keep dumps and manifests (stack output `backupStore`). */
  backupStore: pulumi.Output<string>
}

/** The key prefix of the backups in the bucket (`releases/` holds the release evidence). */
const BACKUP_STORE_PREFIX = 'backups'

/** Days a backup stays restorable as a noncurrent version after it expired or was deleted. */
export const NONCURRENT_BACKUP_DAYS = 30

export function createStorage(
  config: StackConfig,
  args: {
    backupKeyArn: pulumi.Input<string>
    dataKeyArn: pulumi.Input<string>
    accountId: pulumi.Input<string>
  },
): Storage {
  const concern = new Concern('Storage', config)
  const p = config.namePrefix
  const tags = (name: string) => ({ ...config.tags, Name: name })

  const backupBucket = new aws.s3.Bucket(
    `${p}-backups`,
    {
      bucket: pulumi.interpolate`${p}-backups-${args.accountId}`,
      forceDestroy: false,
      tags: tags(`${p}-backups`),
    },
    concern.child({ protect: config.isProduction }),
  )
  new aws.s3.BucketPublicAccessBlock(
    `${p}-backups-public-access`,
    {
      bucket: backupBucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    },
    concern.child(),
  )
  new aws.s3.BucketOwnershipControls(
    `${p}-backups-ownership`,
    {
      bucket: backupBucket.id,
      rule: { objectOwnership: 'BucketOwnerEnforced' },
    },
    concern.child(),
  )
  new aws.s3.BucketVersioning(
    `${p}-backups-versioning`,
    {
      bucket: backupBucket.id,
      versioningConfiguration: { status: 'Enabled' },
    },
    concern.child(),
  )
  new aws.s3.BucketServerSideEncryptionConfiguration(
    `${p}-backups-encryption`,
    {
      bucket: backupBucket.id,
      rules: [
        {
          applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: args.backupKeyArn },
          bucketKeyEnabled: true,
        },
      ],
    },
    concern.child(),
  )
  new aws.s3.BucketPolicy(
    `${p}-backups-tls-only`,
    {
      bucket: backupBucket.id,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'DenyInsecureTransport',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: [backupBucket.arn, pulumi.interpolate`${backupBucket.arn}/*`],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      }),
    },
    concern.child(),
  )
  // Backups expire after backup.retentionDays (30 by default) and stay restorable as a noncurrent version
  // for 30 more days. No transition: the ops commands upload dumps as STANDARD_IA already (a transition
  // cannot happen before day 30, so with a 30-day retention it never happened), and the manifests are a
  // few KB, which S3 does not transition (below 128 KB) and IA would bill as 128 KB.
  const retention = config.backup.retentionDays
  new aws.s3.BucketLifecycleConfiguration(
    `${p}-backups-lifecycle`,
    {
      bucket: backupBucket.id,
      rules: [
        {
          id: 'expire-backups',
          status: 'Enabled',
          filter: {},
          expiration: { days: retention },
          noncurrentVersionExpiration: { noncurrentDays: NONCURRENT_BACKUP_DAYS },
          abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
        },
      ],
    },
    concern.child(),
  )

  return { backupBucket, backupStore: pulumi.interpolate`s3://${backupBucket.bucket}/${BACKUP_STORE_PREFIX}` }
}
