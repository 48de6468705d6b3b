// What a promotion needs besides the shared image: the owner stack (staging) records each digest it passed
// (smoke and load) at `s3://<its backup bucket>/releases/<digest>.json`; the other stacks' deploy roles
// read that record before deploying the digest and carry its load results into their report. The record
// holds no secret and is written with SSE-S3, so readers need no access to the owner's backup key.
import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import { Concern } from './concern.js'
import type { StackConfig } from './config.js'

export const RELEASES_PREFIX = 'releases'

export function createReleaseEvidenceAccess(
  config: StackConfig,
  args: { deployRoleName: pulumi.Input<string>; evidenceBucket: pulumi.Input<string> },
): aws.iam.RolePolicy {
  const concern = new Concern('ReleaseEvidenceAccess', config)
  const owner = config.imageRepository.owner === config.stack
  const objects = pulumi.interpolate`arn:aws:s3:::${args.evidenceBucket}/${RELEASES_PREFIX}/*`
  return new aws.iam.RolePolicy(
    `${config.namePrefix}-release-evidence-policy`,
    {
      role: args.deployRoleName,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: owner ? 'RecordPassedReleases' : 'ReadPassedReleases',
            Effect: 'Allow',
            Action: owner ? ['s3:GetObject', 's3:PutObject'] : ['s3:GetObject'],
            Resource: objects,
          },
        ],
      }),
    },
    concern.child(),
  )
}
