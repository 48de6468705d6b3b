// What CI needs to run `pulumi up` and `pulumi preview` of THIS program, and nothing more:
// - customer-managed provisioning policies for the deploy role, one per concern (each under IAM's 6,144
//   character limit), scoped to this stack's names (`<prefix>-*`), its Environment tag and its region;
// - a permissions boundary every role the program creates carries: CI may create and change roles only
//   with that boundary, so a pipeline that rewrites a role cannot grant more than the workloads need;
// - CI can never change its own roles, their policies, the boundary or the OIDC provider: those change
//   only through an administrator's `pulumi up` (docs/ci-cd.md, "First deploy into a new AWS account");
// - a read-only preview role trusted only for pull requests of the repository, reading the state.
import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import { Concern } from './concern.js'
import { PROJECT, type StackConfig } from './config.js'
import { GITHUB_OIDC_HOST } from './github-deploy.js'

type Statement = Record<string, unknown>

/** Physical names of the identity resources CI must not change (known before they exist). */
export const identityNames = (config: StackConfig) => {
  const p = config.namePrefix
  return {
    deployRole: `${p}-github-deploy`,
    previewRole: `${p}-github-preview`,
    boundary: `${p}-workload-boundary`,
    provisioningPolicy: (part: string) => `${p}-provisioning-${part}`,
    previewPolicy: `${p}-github-preview`,
  }
}

/** The OIDC subject of a pull-request workflow run (a job without `environment:`). */
export const pullRequestSubject = (config: StackConfig) => `repo:${config.github.repository}:pull_request`

export const PROVISIONING_PARTS = ['network', 'data', 'compute', 'observability', 'identity'] as const

/** Services that create their service-linked role on first use, when the caller may. */
export const SERVICE_LINKED_ROLES = [
  'ecs.amazonaws.com',
  'rds.amazonaws.com',
  'elasticache.amazonaws.com',
  'elasticloadbalancing.amazonaws.com',
  'ecs.application-autoscaling.amazonaws.com',
]

const document = (statements: Statement[]) =>
  pulumi.jsonStringify({ Version: '2012-10-17', Statement: statements })

export interface ProvisioningArgs {
  accountId: pulumi.Input<string>
  /** Principal ARN of the OIDC provider the GitHub roles trust. */
  oidcProviderArn: pulumi.Input<string>
}

/** The boundary of every workload role: the union of what the task, execution and scheduler roles do. */
export function createWorkloadBoundary(config: StackConfig, accountId: pulumi.Input<string>): aws.iam.Policy {
  const concern = new Concern('WorkloadBoundary', config)
  const p = config.namePrefix
  const arn = (service: string, resource: string) =>
    pulumi.interpolate`arn:aws:${service}:${config.region}:${accountId}:${resource}`
  return new aws.iam.Policy(
    `${p}-workload-boundary`,
    {
      name: identityNames(config).boundary,
      description: `Most any ${p} workload role may do (permissions boundary; CI cannot change it)`,
      policy: document([
        { Sid: 'EcrLogin', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        {
          Sid: 'PullImages',
          Effect: 'Allow',
          Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
          Resource: arn('ecr', `repository/${PROJECT}-*`),
        },
        {
          Sid: 'StackSecrets',
          Effect: 'Allow',
          Action: 'secretsmanager:GetSecretValue',
          Resource: arn('secretsmanager', `secret:${PROJECT}/${config.stack}/*`),
        },
        {
          Sid: 'StackKeys',
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: '*',
          Condition: { StringEquals: { 'aws:ResourceTag/Environment': config.stack } },
        },
        {
          Sid: 'StackLogs',
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: arn('logs', `log-group:/ecs/${p}*`),
        },
        {
          Sid: 'Backups',
          Effect: 'Allow',
          Action: [
            's3:ListBucket',
            's3:GetObject',
            's3:PutObject',
            's3:AbortMultipartUpload',
            's3:ListMultipartUploadParts',
          ],
          Resource: [
            pulumi.interpolate`arn:aws:s3:::${p}-backups-${accountId}`,
            pulumi.interpolate`arn:aws:s3:::${p}-backups-${accountId}/*`,
          ],
        },
        {
          Sid: 'StartStackTasks',
          Effect: 'Allow',
          Action: ['ecs:RunTask', 'ecs:TagResource'],
          Resource: '*',
          Condition: { ArnLike: { 'ecs:cluster': arn('ecs', `cluster/${p}`) } },
        },
        {
          Sid: 'PassStackRoles',
          Effect: 'Allow',
          Action: 'iam:PassRole',
          Resource: pulumi.interpolate`arn:aws:iam::${accountId}:role/${p}-*`,
        },
      ]),
      tags: config.tags,
    },
    concern.child(),
  )
}

/** Statements of each provisioning policy. */
export function provisioningStatements(
  config: StackConfig,
  args: { accountId: pulumi.Input<string>; boundaryArn: pulumi.Input<string> },
): Record<(typeof PROVISIONING_PARTS)[number], Statement[]> {
  const p = config.namePrefix
  const account = args.accountId
  const region = config.region
  const arn = (service: string, resource: string) =>
    pulumi.interpolate`arn:aws:${service}:${region}:${account}:${resource}`
  const inRegion = { StringEquals: { 'aws:RequestedRegion': region } }
  const taggedOnCreate = { StringEquals: { 'aws:RequestTag/Environment': config.stack } }
  const taggedStack = { StringEquals: { 'aws:ResourceTag/Environment': config.stack } }
  const names = identityNames(config)
  const iamArn = (resource: string) => pulumi.interpolate`arn:aws:iam::${account}:${resource}`

  return {
    network: [
      { Sid: 'ReadNetwork', Effect: 'Allow', Action: 'ec2:Describe*', Resource: '*' },
      {
        // EC2 ids are random: the stack's own resources are told apart by their Environment tag (deny below).
        Sid: 'ManageNetwork',
        Effect: 'Allow',
        Action: [
          'ec2:CreateVpc',
          'ec2:ModifyVpcAttribute',
          'ec2:DeleteVpc',
          'ec2:CreateSubnet',
          'ec2:ModifySubnetAttribute',
          'ec2:DeleteSubnet',
          'ec2:CreateInternetGateway',
          'ec2:AttachInternetGateway',
          'ec2:DetachInternetGateway',
          'ec2:DeleteInternetGateway',
          'ec2:AllocateAddress',
          'ec2:ReleaseAddress',
          'ec2:DisassociateAddress',
          'ec2:CreateNatGateway',
          'ec2:DeleteNatGateway',
          'ec2:CreateRouteTable',
          'ec2:DeleteRouteTable',
          'ec2:CreateRoute',
          'ec2:ReplaceRoute',
          'ec2:DeleteRoute',
          'ec2:AssociateRouteTable',
          'ec2:DisassociateRouteTable',
          'ec2:CreateSecurityGroup',
          'ec2:DeleteSecurityGroup',
          'ec2:AuthorizeSecurityGroupIngress',
          'ec2:AuthorizeSecurityGroupEgress',
          'ec2:RevokeSecurityGroupIngress',
          'ec2:RevokeSecurityGroupEgress',
          'ec2:ModifySecurityGroupRules',
          'ec2:UpdateSecurityGroupRuleDescriptionsIngress',
          'ec2:UpdateSecurityGroupRuleDescriptionsEgress',
          'ec2:CreateVpcEndpoint',
          'ec2:ModifyVpcEndpoint',
          'ec2:DeleteVpcEndpoints',
          'ec2:CreateTags',
          'ec2:DeleteTags',
        ],
        Resource: '*',
        Condition: inRegion,
      },
      {
        Sid: 'NotOtherEnvironments',
        Effect: 'Deny',
        NotAction: ['ec2:Describe*'],
        Resource: '*',
        Condition: {
          Null: { 'ec2:ResourceTag/Environment': 'false' },
          StringNotEquals: { 'ec2:ResourceTag/Environment': config.stack },
        },
      },
    ],
    data: [
      {
        Sid: 'Database',
        Effect: 'Allow',
        Action: [
          'rds:CreateDBInstance',
          'rds:ModifyDBInstance',
          'rds:DeleteDBInstance',
          'rds:CreateDBSnapshot',
          'rds:CreateDBParameterGroup',
          'rds:ModifyDBParameterGroup',
          'rds:DeleteDBParameterGroup',
          'rds:CreateDBSubnetGroup',
          'rds:ModifyDBSubnetGroup',
          'rds:DeleteDBSubnetGroup',
          'rds:AddTagsToResource',
          'rds:RemoveTagsFromResource',
          'rds:ListTagsForResource',
        ],
        Resource: [
          arn('rds', `db:${p}-*`),
          arn('rds', `pg:${p}-*`),
          arn('rds', `subgrp:${p}-*`),
          arn('rds', `snapshot:${p}-*`),
          arn('rds', 'og:default*'),
        ],
      },
      {
        Sid: 'Cache',
        Effect: 'Allow',
        Action: [
          'elasticache:CreateReplicationGroup',
          'elasticache:ModifyReplicationGroup',
          'elasticache:DeleteReplicationGroup',
          // A replication group creates, changes and deletes its member clusters with the caller's rights.
          'elasticache:CreateCacheCluster',
          'elasticache:ModifyCacheCluster',
          'elasticache:DeleteCacheCluster',
          'elasticache:CreateCacheSubnetGroup',
          'elasticache:ModifyCacheSubnetGroup',
          'elasticache:DeleteCacheSubnetGroup',
          'elasticache:CreateCacheParameterGroup',
          'elasticache:ModifyCacheParameterGroup',
          'elasticache:DeleteCacheParameterGroup',
          'elasticache:AddTagsToResource',
          'elasticache:RemoveTagsFromResource',
          'elasticache:ListTagsForResource',
        ],
        Resource: [
          arn('elasticache', `replicationgroup:${p}-*`),
          arn('elasticache', `cluster:${p}-*`),
          arn('elasticache', `subnetgroup:${p}-*`),
          arn('elasticache', `parametergroup:${p}-*`),
        ],
      },
      {
        Sid: 'ReadDataServices',
        Effect: 'Allow',
        Action: ['rds:Describe*', 'elasticache:Describe*', 'secretsmanager:ListSecrets', 'kms:ListAliases'],
        Resource: '*',
      },
      {
        Sid: 'Secrets',
        Effect: 'Allow',
        Action: [
          'secretsmanager:CreateSecret',
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetResourcePolicy',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecret',
          'secretsmanager:DeleteSecret',
          'secretsmanager:TagResource',
          'secretsmanager:UntagResource',
        ],
        Resource: arn('secretsmanager', `secret:${PROJECT}/${config.stack}/*`),
      },
      {
        // KMS key ids are random: keys are created with, and then managed by, the Environment tag.
        // Tagging at creation needs kms:TagResource under the same request-tag condition.
        Sid: 'CreateKeys',
        Effect: 'Allow',
        Action: ['kms:CreateKey', 'kms:TagResource'],
        Resource: '*',
        Condition: { StringEquals: { ...inRegion.StringEquals, ...taggedOnCreate.StringEquals } },
      },
      {
        Sid: 'ManageStackKeys',
        Effect: 'Allow',
        Action: [
          'kms:DescribeKey',
          'kms:GetKeyPolicy',
          'kms:GetKeyRotationStatus',
          'kms:ListResourceTags',
          'kms:EnableKeyRotation',
          'kms:PutKeyPolicy',
          'kms:UpdateKeyDescription',
          'kms:TagResource',
          'kms:UntagResource',
          'kms:ScheduleKeyDeletion',
          'kms:CreateGrant',
          'kms:Decrypt',
          'kms:Encrypt',
          'kms:GenerateDataKey',
          'kms:CreateAlias',
          'kms:UpdateAlias',
          'kms:DeleteAlias',
        ],
        Resource: '*',
        Condition: taggedStack,
      },
      {
        Sid: 'StackAliases',
        Effect: 'Allow',
        Action: ['kms:CreateAlias', 'kms:UpdateAlias', 'kms:DeleteAlias'],
        Resource: arn('kms', `alias/${p}-*`),
      },
      {
        // The exact bucket name (it ends with the account id): no object of the bucket matches.
        Sid: 'BackupBucketConfiguration',
        Effect: 'Allow',
        Action: [
          's3:CreateBucket',
          's3:DeleteBucket',
          's3:Get*',
          's3:Put*',
          's3:DeleteBucketPolicy',
          's3:ListBucket',
        ],
        Resource: pulumi.interpolate`arn:aws:s3:::${p}-backups-${account}`,
      },
    ],
    compute: [
      {
        Sid: 'Ecs',
        Effect: 'Allow',
        Action: [
          'ecs:CreateCluster',
          'ecs:UpdateCluster',
          'ecs:UpdateClusterSettings',
          'ecs:DeleteCluster',
          'ecs:DescribeClusters',
          'ecs:CreateService',
          'ecs:UpdateService',
          'ecs:DeleteService',
          'ecs:DescribeServices',
          'ecs:TagResource',
          'ecs:UntagResource',
          'ecs:ListTagsForResource',
        ],
        Resource: [
          arn('ecs', `cluster/${p}`),
          arn('ecs', `service/${p}/*`),
          arn('ecs', `task-definition/${p}-*:*`),
        ],
      },
      // Staging's fake Graph API is found through a Cloud Map private DNS namespace (a Route 53 private zone
      // Cloud Map creates on the caller's behalf); neither supports resource-level permissions at creation.
      ...(config.syntheticGraph
        ? [
            {
              Sid: 'SyntheticGraphDiscovery',
              Effect: 'Allow',
              Action: [
                'servicediscovery:CreatePrivateDnsNamespace',
                'servicediscovery:CreateService',
                'servicediscovery:Get*',
                'servicediscovery:List*',
                'servicediscovery:UpdateService',
                'servicediscovery:DeleteService',
                'servicediscovery:DeleteNamespace',
                'servicediscovery:TagResource',
                'servicediscovery:UntagResource',
                'route53:CreateHostedZone',
                'route53:DeleteHostedZone',
                'route53:GetHostedZone',
                'route53:ChangeResourceRecordSets',
                'route53:AssociateVPCWithHostedZone',
                'route53:GetChange',
              ],
              Resource: '*',
              Condition: inRegion,
            },
          ]
        : []),
      {
        // Task-definition registration has no resource-level permissions.
        Sid: 'TaskDefinitions',
        Effect: 'Allow',
        Action: ['ecs:RegisterTaskDefinition', 'ecs:DeregisterTaskDefinition', 'ecs:DescribeTaskDefinition'],
        Resource: '*',
        Condition: inRegion,
      },
      {
        Sid: 'LoadBalancer',
        Effect: 'Allow',
        Action: [
          'elasticloadbalancing:CreateLoadBalancer',
          'elasticloadbalancing:DeleteLoadBalancer',
          'elasticloadbalancing:ModifyLoadBalancerAttributes',
          'elasticloadbalancing:SetSecurityGroups',
          'elasticloadbalancing:SetSubnets',
          'elasticloadbalancing:CreateTargetGroup',
          'elasticloadbalancing:DeleteTargetGroup',
          'elasticloadbalancing:ModifyTargetGroup',
          'elasticloadbalancing:ModifyTargetGroupAttributes',
          'elasticloadbalancing:CreateListener',
          'elasticloadbalancing:DeleteListener',
          'elasticloadbalancing:ModifyListener',
          'elasticloadbalancing:AddTags',
          'elasticloadbalancing:RemoveTags',
        ],
        Resource: [
          arn('elasticloadbalancing', `loadbalancer/app/${p}-*`),
          arn('elasticloadbalancing', `targetgroup/${p}-*`),
          arn('elasticloadbalancing', `listener/app/${p}-*`),
        ],
      },
      {
        Sid: 'Repository',
        Effect: 'Allow',
        Action: [
          'ecr:CreateRepository',
          'ecr:DeleteRepository',
          'ecr:DescribeRepositories',
          'ecr:PutLifecyclePolicy',
          'ecr:GetLifecyclePolicy',
          'ecr:DeleteLifecyclePolicy',
          'ecr:PutImageScanningConfiguration',
          'ecr:PutImageTagMutability',
          'ecr:GetRepositoryPolicy',
          'ecr:SetRepositoryPolicy',
          'ecr:DeleteRepositoryPolicy',
          'ecr:TagResource',
          'ecr:UntagResource',
          'ecr:ListTagsForResource',
        ],
        Resource: arn('ecr', `repository/${PROJECT}-*`),
      },
      {
        Sid: 'LogGroup',
        Effect: 'Allow',
        Action: [
          'logs:CreateLogGroup',
          'logs:DeleteLogGroup',
          'logs:PutRetentionPolicy',
          'logs:AssociateKmsKey',
          'logs:DisassociateKmsKey',
          'logs:TagResource',
          'logs:UntagResource',
          'logs:ListTagsForResource',
          'logs:TagLogGroup',
          'logs:ListTagsLogGroup',
        ],
        Resource: [arn('logs', `log-group:/ecs/${p}`), arn('logs', `log-group:/ecs/${p}:*`)],
      },
      {
        // Query definitions, scalable targets and policies have no resource-level permissions.
        Sid: 'NoResourceLevel',
        Effect: 'Allow',
        Action: [
          'elasticloadbalancing:Describe*',
          'logs:DescribeLogGroups',
          'logs:PutQueryDefinition',
          'logs:DeleteQueryDefinition',
          'logs:DescribeQueryDefinitions',
          'application-autoscaling:RegisterScalableTarget',
          'application-autoscaling:DeregisterScalableTarget',
          'application-autoscaling:PutScalingPolicy',
          'application-autoscaling:DeleteScalingPolicy',
          'application-autoscaling:Describe*',
          'application-autoscaling:TagResource',
          'application-autoscaling:ListTagsForResource',
        ],
        Resource: '*',
        Condition: inRegion,
      },
      {
        Sid: 'Schedules',
        Effect: 'Allow',
        Action: [
          'scheduler:CreateSchedule',
          'scheduler:UpdateSchedule',
          'scheduler:DeleteSchedule',
          'scheduler:GetSchedule',
        ],
        Resource: arn('scheduler', `schedule/default/${p}-*`),
      },
      {
        Sid: 'EventRules',
        Effect: 'Allow',
        Action: [
          'events:PutRule',
          'events:DeleteRule',
          'events:DescribeRule',
          'events:PutTargets',
          'events:RemoveTargets',
          'events:ListTargetsByRule',
          'events:TagResource',
          'events:UntagResource',
          'events:ListTagsForResource',
        ],
        Resource: arn('events', `rule/${p}-*`),
      },
    ],
    observability: [
      {
        Sid: 'Alarms',
        Effect: 'Allow',
        Action: [
          'cloudwatch:PutMetricAlarm',
          'cloudwatch:DeleteAlarms',
          'cloudwatch:TagResource',
          'cloudwatch:UntagResource',
          'cloudwatch:ListTagsForResource',
        ],
        // Target tracking creates its alarms (TargetTracking-service/<cluster>/…) with the caller's rights.
        Resource: [
          arn('cloudwatch', `alarm:${p}-*`),
          arn('cloudwatch', `alarm:TargetTracking-service/${p}/*`),
        ],
      },
      {
        Sid: 'Dashboards',
        Effect: 'Allow',
        Action: ['cloudwatch:PutDashboard', 'cloudwatch:DeleteDashboards', 'cloudwatch:GetDashboard'],
        Resource: pulumi.interpolate`arn:aws:cloudwatch::${account}:dashboard/${p}-*`,
      },
      { Sid: 'ReadAlarms', Effect: 'Allow', Action: 'cloudwatch:DescribeAlarms', Resource: '*' },
      {
        Sid: 'AlertTopic',
        Effect: 'Allow',
        Action: [
          'sns:CreateTopic',
          'sns:DeleteTopic',
          'sns:GetTopicAttributes',
          'sns:SetTopicAttributes',
          'sns:Subscribe',
          'sns:Unsubscribe',
          'sns:GetSubscriptionAttributes',
          'sns:SetSubscriptionAttributes',
          'sns:ListSubscriptionsByTopic',
          'sns:TagResource',
          'sns:UntagResource',
          'sns:ListTagsForResource',
        ],
        Resource: arn('sns', `${p}-*`),
      },
      {
        Sid: 'Budget',
        Effect: 'Allow',
        Action: [
          'budgets:ModifyBudget',
          'budgets:ViewBudget',
          'budgets:TagResource',
          'budgets:ListTagsForResource',
        ],
        Resource: pulumi.interpolate`arn:aws:budgets::${account}:budget/${p}-*`,
      },
      {
        // Cost Explorer anomaly monitors and subscriptions have random ids.
        Sid: 'CostAnomalies',
        Effect: 'Allow',
        Action: [
          'ce:CreateAnomalyMonitor',
          'ce:UpdateAnomalyMonitor',
          'ce:DeleteAnomalyMonitor',
          'ce:GetAnomalyMonitors',
          'ce:CreateAnomalySubscription',
          'ce:UpdateAnomalySubscription',
          'ce:DeleteAnomalySubscription',
          'ce:GetAnomalySubscriptions',
          'ce:TagResource',
          'ce:ListTagsForResource',
        ],
        Resource: '*',
      },
      { Sid: 'Identity', Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' },
    ],
    identity: [
      {
        // The program's workload roles (auto-named `<prefix>-…`), only with the boundary attached.
        Sid: 'WorkloadRolesWithBoundary',
        Effect: 'Allow',
        Action: [
          'iam:CreateRole',
          'iam:PutRolePolicy',
          'iam:DeleteRolePolicy',
          'iam:AttachRolePolicy',
          'iam:DetachRolePolicy',
          'iam:PutRolePermissionsBoundary',
        ],
        Resource: iamArn(`role/${p}-*`),
        Condition: { StringEquals: { 'iam:PermissionsBoundary': args.boundaryArn } },
      },
      {
        Sid: 'WorkloadRoles',
        Effect: 'Allow',
        Action: [
          'iam:GetRole',
          'iam:GetRolePolicy',
          'iam:ListRolePolicies',
          'iam:ListAttachedRolePolicies',
          'iam:ListInstanceProfilesForRole',
          'iam:ListRoleTags',
          'iam:TagRole',
          'iam:UntagRole',
          'iam:UpdateRole',
          'iam:UpdateRoleDescription',
          'iam:UpdateAssumeRolePolicy',
          'iam:DeleteRole',
        ],
        Resource: iamArn(`role/${p}-*`),
      },
      {
        Sid: 'PassWorkloadRoles',
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: iamArn(`role/${p}-*`),
        Condition: {
          StringEquals: { 'iam:PassedToService': ['ecs-tasks.amazonaws.com', 'scheduler.amazonaws.com'] },
        },
      },
      {
        Sid: 'ReadIdentity',
        Effect: 'Allow',
        Action: [
          'iam:GetPolicy',
          'iam:GetPolicyVersion',
          'iam:ListPolicyVersions',
          'iam:GetOpenIDConnectProvider',
        ],
        Resource: [iamArn(`policy/${p}-*`), iamArn(`oidc-provider/${GITHUB_OIDC_HOST}`)],
      },
      {
        Sid: 'ServiceLinkedRoles',
        Effect: 'Allow',
        Action: 'iam:CreateServiceLinkedRole',
        Resource: iamArn('role/aws-service-role/*'),
        Condition: { StringEquals: { 'iam:AWSServiceName': SERVICE_LINKED_ROLES } },
      },
      {
        // Pulumi reads the ECS service-linked role it creates (account.createEcsServiceLinkedRole).
        Sid: 'ReadServiceLinkedRoles',
        Effect: 'Allow',
        Action: 'iam:GetRole',
        Resource: iamArn('role/aws-service-role/*'),
      },
      {
        // CI never changes its own permissions, the boundary or the OIDC trust: an administrator does.
        Sid: 'NotCiIdentity',
        Effect: 'Deny',
        Action: [
          'iam:Create*',
          'iam:Delete*',
          'iam:Put*',
          'iam:Update*',
          'iam:Attach*',
          'iam:Detach*',
          'iam:Tag*',
          'iam:Untag*',
          'iam:SetDefaultPolicyVersion',
          'iam:AddClientIDToOpenIDConnectProvider',
          'iam:RemoveClientIDFromOpenIDConnectProvider',
        ],
        Resource: [
          iamArn(`role/${names.deployRole}`),
          iamArn(`role/${names.previewRole}`),
          iamArn(`policy/${names.boundary}`),
          iamArn(`policy/${p}-provisioning-*`),
          iamArn(`policy/${names.previewPolicy}`),
          iamArn(`oidc-provider/${GITHUB_OIDC_HOST}`),
        ],
      },
    ],
  }
}

/** Access to the Pulumi state: the backend bucket (`.pulumi/…`) and its KMS key, from config. */
export function stateStatements(config: StackConfig, write: boolean): Statement[] {
  const state = config.github.state
  const bucket = `arn:aws:s3:::${state.bucket}`
  const statements: Statement[] = [
    {
      Sid: 'StateBucket',
      Effect: 'Allow',
      Action: ['s3:ListBucket', 's3:GetBucketLocation', 's3:GetBucketVersioning'],
      Resource: bucket,
    },
    {
      Sid: write ? 'ReadWriteState' : 'ReadState',
      Effect: 'Allow',
      Action: write ? ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'] : 's3:GetObject',
      Resource: `${bucket}/.pulumi/*`,
    },
  ]
  // Pulumi's S3 backend writes a lock object even for a preview.
  if (!write)
    statements.push({
      Sid: 'StateLocks',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:DeleteObject'],
      Resource: `${bucket}/.pulumi/locks/*`,
    })
  if (state.kmsKeyArn)
    statements.push({
      // The bucket's SSE-KMS and the awskms:// secrets provider of the stacks.
      Sid: 'StateKey',
      Effect: 'Allow',
      Action: write
        ? ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey']
        : ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
      Resource: state.kmsKeyArn,
    })
  return statements
}

/** Read-only calls a preview of this program makes (no data: no object, secret value, log or image). */
export const PREVIEW_READ_ACTIONS = [
  'sts:GetCallerIdentity',
  'ec2:Describe*',
  'rds:Describe*',
  'rds:ListTagsForResource',
  'elasticache:Describe*',
  'elasticache:ListTagsForResource',
  'ecs:Describe*',
  'ecs:List*',
  'elasticloadbalancing:Describe*',
  'ecr:DescribeRepositories',
  'ecr:GetLifecyclePolicy',
  'ecr:GetRepositoryPolicy',
  'ecr:ListTagsForResource',
  'logs:DescribeLogGroups',
  'logs:DescribeQueryDefinitions',
  'logs:ListTagsForResource',
  'logs:ListTagsLogGroup',
  'cloudwatch:DescribeAlarms',
  'cloudwatch:GetDashboard',
  'cloudwatch:ListTagsForResource',
  'sns:GetTopicAttributes',
  'sns:GetSubscriptionAttributes',
  'sns:ListSubscriptionsByTopic',
  'sns:ListTagsForResource',
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListAliases',
  'kms:ListResourceTags',
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetResourcePolicy',
  'iam:GetRole',
  'iam:GetRolePolicy',
  'iam:ListRolePolicies',
  'iam:ListAttachedRolePolicies',
  'iam:ListRoleTags',
  'iam:GetPolicy',
  'iam:GetPolicyVersion',
  'iam:GetOpenIDConnectProvider',
  'application-autoscaling:Describe*',
  'application-autoscaling:ListTagsForResource',
  'scheduler:GetSchedule',
  'scheduler:ListTagsForResource',
  'events:DescribeRule',
  'events:ListTargetsByRule',
  'events:ListTagsForResource',
  'budgets:ViewBudget',
  'budgets:ListTagsForResource',
  'ce:GetAnomalyMonitors',
  'ce:GetAnomalySubscriptions',
  'ce:ListTagsForResource',
  's3:GetBucket*',
  's3:GetLifecycleConfiguration',
  's3:GetEncryptionConfiguration',
  's3:GetAccelerateConfiguration',
  's3:GetReplicationConfiguration',
]

export interface CiAccess {
  provisioningPolicies: aws.iam.Policy[]
  previewRole: aws.iam.Role
}

/**
 * The deploy role's provisioning policies (attached to it) and the pull-request preview role. The
 * deploy role itself is created by github-deploy.ts.
 */
export function createCiAccess(
  config: StackConfig,
  args: ProvisioningArgs & { deployRole: aws.iam.Role; boundaryArn: pulumi.Input<string> },
): CiAccess {
  const concern = new Concern('CiAccess', config)
  const p = config.namePrefix
  const names = identityNames(config)
  const statements = provisioningStatements(config, args)
  const provisioningPolicies = PROVISIONING_PARTS.map((part) => {
    const extra = part === 'observability' ? stateStatements(config, true) : []
    const policy = new aws.iam.Policy(
      `${p}-provisioning-${part}`,
      {
        name: names.provisioningPolicy(part),
        description: `pulumi up of ${p} from CI: ${part}`,
        policy: document([...statements[part], ...extra]),
        tags: config.tags,
      },
      concern.child(),
    )
    new aws.iam.RolePolicyAttachment(
      `${p}-provisioning-${part}-attachment`,
      {
        role: args.deployRole.name,
        policyArn: policy.arn,
      },
      concern.child(),
    )
    return policy
  })

  const previewRole = new aws.iam.Role(
    `${p}-github-preview-role`,
    {
      name: names.previewRole,
      description: `Pull-request previews of ${config.github.repository} against ${config.stack} (read-only)`,
      maxSessionDuration: 3600,
      assumeRolePolicy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Federated: args.oidcProviderArn },
            Action: 'sts:AssumeRoleWithWebIdentity',
            Condition: {
              StringEquals: {
                [`${GITHUB_OIDC_HOST}:aud`]: 'sts.amazonaws.com',
                [`${GITHUB_OIDC_HOST}:sub`]: pullRequestSubject(config),
              },
            },
          },
        ],
      }),
      tags: config.tags,
    },
    concern.child(),
  )
  const previewPolicy = new aws.iam.Policy(
    `${p}-github-preview-policy`,
    {
      name: names.previewPolicy,
      description: `pulumi preview of ${p} from pull requests: reads only`,
      policy: document([
        { Sid: 'ReadStackConfiguration', Effect: 'Allow', Action: PREVIEW_READ_ACTIONS, Resource: '*' },
        ...stateStatements(config, false),
      ]),
      tags: config.tags,
    },
    concern.child(),
  )
  new aws.iam.RolePolicyAttachment(
    `${p}-github-preview-attachment`,
    {
      role: previewRole.name,
      policyArn: previewPolicy.arn,
    },
    concern.child(),
  )
  return { provisioningPolicies, previewRole }
}
