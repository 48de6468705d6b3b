// GitHub Actions deploys with short-lived credentials: an OIDC provider and a role whose trust is
// pinned to one repository AND one GitHub environment named like the stack, so a workflow run that is
// not in the `production` environment (with its reviewers) cannot assume the production role.
import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import { Concern } from './concern.js'
import type { StackConfig } from './config.js'
import { identityNames } from './provisioning.js'

export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com'

export const githubSubject = (config: StackConfig) =>
  `repo:${config.github.repository}:environment:${config.stack}`

export function createDeployRole(
  config: StackConfig,
  args: {
    accountId: pulumi.Input<string>
    repositoryArn: pulumi.Input<string>
    clusterArn: pulumi.Input<string>
    passRoleArns: pulumi.Input<string>[]
    logGroupArn: pulumi.Input<string>
    backupBucketArn: pulumi.Input<string>
    backupKeyArn: pulumi.Input<string>
    databaseArn: pulumi.Input<string>
  },
): { role: aws.iam.Role; oidcProviderArn: pulumi.Output<string> } {
  const concern = new Concern('DeployAccess', config)
  const p = config.namePrefix
  const providerArn = config.github.createOidcProvider
    ? new aws.iam.OpenIdConnectProvider(
        `${p}-github-oidc`,
        {
          url: `https://${GITHUB_OIDC_HOST}`,
          clientIdLists: ['sts.amazonaws.com'],
          tags: config.tags,
        },
        concern.child(),
      ).arn
    : pulumi.output(config.github.oidcProviderArn!)

  const role = new aws.iam.Role(
    `${p}-github-deploy-role`,
    {
      name: identityNames(config).deployRole,
      description: `GitHub Actions deploys of ${config.github.repository} to ${config.stack}`,
      maxSessionDuration: 3600,
      assumeRolePolicy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Federated: providerArn },
            Action: 'sts:AssumeRoleWithWebIdentity',
            Condition: {
              StringEquals: {
                [`${GITHUB_OIDC_HOST}:aud`]: 'sts.amazonaws.com',
                [`${GITHUB_OIDC_HOST}:sub`]: githubSubject(config),
              },
            },
          },
        ],
      }),
      tags: config.tags,
    },
    concern.child(),
  )

  const ecsResource = (kind: string) =>
    pulumi.interpolate`arn:aws:ecs:${config.region}:${args.accountId}:${kind}/${config.namePrefix}*`
  new aws.iam.RolePolicy(
    `${p}-github-deploy-policy`,
    {
      role: role.id,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'EcrLogin', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
          {
            Sid: 'PushImage',
            Effect: 'Allow',
            Action: [
              'ecr:BatchCheckLayerAvailability',
              'ecr:BatchGetImage',
              'ecr:CompleteLayerUpload',
              'ecr:DescribeImages',
              'ecr:DescribeImageScanFindings',
              'ecr:GetDownloadUrlForLayer',
              'ecr:InitiateLayerUpload',
              'ecr:PutImage',
              'ecr:UploadLayerPart',
            ],
            Resource: args.repositoryArn,
          },
          {
            // Register/Describe task definitions have no resource-level permissions.
            Sid: 'TaskDefinitions',
            Effect: 'Allow',
            Action: ['ecs:RegisterTaskDefinition', 'ecs:DescribeTaskDefinition', 'ecs:ListTaskDefinitions'],
            Resource: '*',
          },
          {
            Sid: 'RolloutAndOps',
            Effect: 'Allow',
            Action: [
              'ecs:UpdateService',
              'ecs:DescribeServices',
              'ecs:RunTask',
              'ecs:DescribeTasks',
              'ecs:StopTask',
              'ecs:TagResource',
            ],
            Resource: [
              args.clusterArn,
              ecsResource('service'),
              ecsResource('task'),
              ecsResource('task-definition'),
            ],
          },
          {
            // ListTasks authorizes against container instances, not the cluster or its tasks: a statement
            // naming the cluster ARN denies it. The ecs:cluster condition keeps it to this stack's cluster.
            Sid: 'ListClusterTasks',
            Effect: 'Allow',
            Action: 'ecs:ListTasks',
            Resource: '*',
            Condition: { ArnEquals: { 'ecs:cluster': args.clusterArn } },
          },
          { Sid: 'PassTaskRoles', Effect: 'Allow', Action: 'iam:PassRole', Resource: args.passRoleArns },
          {
            Sid: 'ReadOpsLogs',
            Effect: 'Allow',
            Action: ['logs:GetLogEvents', 'logs:FilterLogEvents'],
            Resource: pulumi.interpolate`${args.logGroupArn}:*`,
          },
          {
            // The pipeline's one-deploy-per-environment lock lives in the backup bucket (SSE-KMS).
            Sid: 'DeployLock',
            Effect: 'Allow',
            Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
            Resource: pulumi.interpolate`${args.backupBucketArn}/locks/*`,
          },
          {
            Sid: 'CheckBackupBucket',
            Effect: 'Allow',
            Action: 's3:GetEncryptionConfiguration',
            Resource: args.backupBucketArn,
          },
          {
            Sid: 'LockEncryption',
            Effect: 'Allow',
            Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
            Resource: args.backupKeyArn,
          },
          {
            Sid: 'SnapshotBeforeRiskyChanges',
            Effect: 'Allow',
            Action: 'rds:CreateDBSnapshot',
            Resource: [
              args.databaseArn,
              pulumi.interpolate`arn:aws:rds:${config.region}:${args.accountId}:snapshot:${config.namePrefix}-*`,
            ],
          },
          {
            // Read-only calls of preflight, rollout and report; most have no resource-level permissions.
            Sid: 'ObserveStack',
            Effect: 'Allow',
            Action: [
              'acm:DescribeCertificate',
              'budgets:ViewBudget',
              'ce:GetCostAndUsage',
              'ce:GetCostForecast',
              'cloudwatch:DescribeAlarms',
              'cloudwatch:GetMetricStatistics',
              'ec2:DescribeSecurityGroups',
              'ec2:DescribeSubnets',
              'ec2:DescribeVpcs',
              'ecr:DescribeRepositories',
              'elasticache:DescribeCacheClusters',
              'elasticache:DescribeReplicationGroups',
              'elasticloadbalancing:DescribeLoadBalancers',
              'elasticloadbalancing:DescribeTargetGroups',
              'elasticloadbalancing:DescribeTargetHealth',
              'logs:DescribeLogGroups',
              'rds:DescribeDBInstances',
              'rds:DescribeDBSnapshots',
              'sns:ListSubscriptionsByTopic',
            ],
            Resource: '*',
          },
        ],
      }),
    },
    concern.child(),
  )
  config.github.provisioningPolicyArns.forEach((policyArn, i) => {
    new aws.iam.RolePolicyAttachment(
      `${p}-github-provisioning-${i + 1}`,
      { role: role.name, policyArn },
      concern.child(),
    )
  })
  return { role, oidcProviderArn: providerArn }
}
