// Task roles of least privilege. The execution role (used by the ECS agent) can pull the image, read
// exactly the app's secrets and write to its log group; the task role (used by the app) can only touch
// the backup bucket and its key. No AWS-managed broad policies are attached.
import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import { Concern } from './concern.js'
import type { StackConfig } from './config.js'

export interface TaskRoles {
  execution: aws.iam.Role
  task: aws.iam.Role
}

const assumedBy = (service: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
  })

export function createTaskRoles(
  config: StackConfig,
  args: {
    secretArns: pulumi.Input<string>[]
    dataKeyArn: pulumi.Input<string>
    logGroupArn: pulumi.Input<string>
    repositoryArn: pulumi.Input<string>
    backupBucketArn: pulumi.Input<string>
    backupKeyArn: pulumi.Input<string>
    /** Permissions boundary of every workload role (provisioning.ts). */
    boundaryArn: pulumi.Input<string>
  },
): TaskRoles {
  const concern = new Concern('TaskRoles', config)
  const p = config.namePrefix
  const tags = config.tags

  const execution = new aws.iam.Role(
    `${p}-task-execution-role`,
    {
      assumeRolePolicy: assumedBy('ecs-tasks.amazonaws.com'),
      description: 'ECS agent: pull the image, read the app secrets, write the app logs',
      permissionsBoundary: args.boundaryArn,
      tags,
    },
    concern.child(),
  )
  new aws.iam.RolePolicy(
    `${p}-task-execution-policy`,
    {
      role: execution.id,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          // GetAuthorizationToken has no resource-level permissions: '*' is the only valid resource.
          { Sid: 'EcrLogin', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
          {
            Sid: 'PullImage',
            Effect: 'Allow',
            Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
            Resource: args.repositoryArn,
          },
          {
            Sid: 'ReadAppSecrets',
            Effect: 'Allow',
            Action: 'secretsmanager:GetSecretValue',
            Resource: args.secretArns,
          },
          {
            Sid: 'DecryptSecretsAndImage',
            Effect: 'Allow',
            Action: 'kms:Decrypt',
            Resource: args.dataKeyArn,
            Condition: {
              StringEquals: {
                'kms:ViaService': [
                  `secretsmanager.${config.region}.amazonaws.com`,
                  `ecr.${config.region}.amazonaws.com`,
                ],
              },
            },
          },
          {
            Sid: 'WriteAppLogs',
            Effect: 'Allow',
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            Resource: pulumi.interpolate`${args.logGroupArn}:*`,
          },
        ],
      }),
    },
    concern.child(),
  )

  const task = new aws.iam.Role(
    `${p}-task-role`,
    {
      assumeRolePolicy: assumedBy('ecs-tasks.amazonaws.com'),
      description: 'The app: database backups in the backup bucket only',
      permissionsBoundary: args.boundaryArn,
      tags,
    },
    concern.child(),
  )
  new aws.iam.RolePolicy(
    `${p}-task-policy`,
    {
      role: task.id,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'ListBackups', Effect: 'Allow', Action: 's3:ListBucket', Resource: args.backupBucketArn },
          {
            Sid: 'ReadWriteBackups',
            Effect: 'Allow',
            Action: [
              's3:GetObject',
              's3:PutObject',
              's3:AbortMultipartUpload',
              's3:ListMultipartUploadParts',
            ],
            Resource: pulumi.interpolate`${args.backupBucketArn}/*`,
          },
          {
            Sid: 'UseBackupKey',
            Effect: 'Allow',
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Resource: args.backupKeyArn,
          },
        ],
      }),
    },
    concern.child(),
  )
  return { execution, task }
}
