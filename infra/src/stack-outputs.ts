// The stack outputs of this program: the ONE list that `index.ts` exports (through program.ts, whose return
// type is checked against it) and that the pipeline validates (ci/src/aws/stack-outputs.ts). No Pulumi
// import: the pipeline loads this file without the Pulumi runtime.

/**
 * The shape an output's value must have. The pipeline turns each into a check; outputs arrive as strings
 * (lists comma-joined, numbers in decimal) from `pulumi stack output --json` or the Automation API.
 */
export type OutputFormat =
  | 'text'
  | 'region'
  | 'url'
  | 'domain'
  | 'stackName'
  | 'taskFamily'
  | 'subnetIds'
  | 'securityGroupId'
  | 'vpcId'
  | 'albDnsName'
  | 'ecrRepositoryUrl'
  | 'bucketName'
  | 's3Url'
  | 'count'
  | 'assignPublicIp'
  | `arn:${string}`

export interface OutputSpec {
  /**
   * `pipeline`: the AWS target reads it (checked by its preflight, in `StackOutputs`);
   * `operators`: read by people and scripts (`pulumi stack output <name>`), not by the pipeline.
   */
  readBy: 'pipeline' | 'operators'
  format: OutputFormat
  /** Absent on some stacks (or, for a pipeline output, on stacks provisioned before it existed). */
  optional?: true
}

export const STACK_OUTPUTS = {
  region: { readBy: 'pipeline', format: 'region' },
  url: { readBy: 'pipeline', format: 'url' },
  domain: { readBy: 'pipeline', format: 'domain' },
  certificateArn: { readBy: 'pipeline', format: 'arn:acm' },
  clusterName: { readBy: 'pipeline', format: 'text' },
  apiServiceName: { readBy: 'pipeline', format: 'text' },
  workerServiceName: { readBy: 'pipeline', format: 'text' },
  /** Task definition family of the API service, also used for one-off ops tasks. */
  taskFamily: { readBy: 'pipeline', format: 'taskFamily' },
  workerTaskFamily: { readBy: 'operators', format: 'taskFamily' },
  containerName: { readBy: 'operators', format: 'text' },
  /**
   * Pulumi's current revisions of the services' task definitions: the ONE source of environment, secrets,
   * CPU and memory. The rollout registers copies of these with only the image changed.
   */
  apiTaskDefinitionArn: { readBy: 'pipeline', format: 'arn:ecs' },
  workerTaskDefinitionArn: { readBy: 'pipeline', format: 'arn:ecs' },
  privateSubnetIds: { readBy: 'pipeline', format: 'subnetIds' },
  /**
   * Where the services' tasks run: the `public-task-ips` egress mode puts them in public subnets with a
   * public IP (no NAT), and ops tasks must run the same way to reach ECR.
   */
  taskSubnetIds: { readBy: 'pipeline', format: 'subnetIds', optional: true },
  taskAssignPublicIp: { readBy: 'pipeline', format: 'assignPublicIp', optional: true },
  taskSecurityGroupId: { readBy: 'pipeline', format: 'securityGroupId' },
  vpcId: { readBy: 'pipeline', format: 'vpcId' },
  albDnsName: { readBy: 'pipeline', format: 'albDnsName' },
  targetGroupArn: { readBy: 'pipeline', format: 'arn:elasticloadbalancing' },
  /** `<account>.dkr.ecr.<region>.amazonaws.com/<name>` */
  ecrRepositoryUrl: { readBy: 'pipeline', format: 'ecrRepositoryUrl' },
  /** The stack that owns the shared image repository and whose passed runs others promote. */
  imageRepositoryOwner: { readBy: 'pipeline', format: 'stackName', optional: true },
  /** Where the owner stack records the digests it passed (`releases/<digest>.json`). */
  releaseEvidenceBucket: { readBy: 'pipeline', format: 'bucketName', optional: true },
  /** Staging only: the fake Graph API the synthetic tenant's phone number talks to. */
  syntheticGraphApiBaseUrl: { readBy: 'pipeline', format: 'url', optional: true },
  backupBucket: { readBy: 'pipeline', format: 'bucketName' },
  /**
   * Where ops tasks keep dumps and manifests (`s3://<backupBucket>/<prefix>`): the BACKUP_STORE of the
   * services' task definitions, of every ops task the pipeline starts, and what the backup listing reads.
   */
  backupStore: { readBy: 'pipeline', format: 's3Url' },
  backupKmsKeyArn: { readBy: 'pipeline', format: 'arn:kms' },
  backupScheduleName: { readBy: 'operators', format: 'text' },
  databaseSecretArn: { readBy: 'operators', format: 'arn:secretsmanager' },
  redisSecretArn: { readBy: 'operators', format: 'arn:secretsmanager' },
  /** Secrets the pipeline reads to ensure the synthetic tenant (values never logged). */
  adminTokenSecretArn: { readBy: 'pipeline', format: 'arn:secretsmanager', optional: true },
  metaSecretArn: { readBy: 'pipeline', format: 'arn:secretsmanager', optional: true },
  databaseEndpoint: { readBy: 'pipeline', format: 'text' },
  dbInstanceId: { readBy: 'pipeline', format: 'text' },
  /** `max_connections` of the database (the parameter group's, or RDS's default for the class). */
  databaseMaxConnections: { readBy: 'pipeline', format: 'count' },
  redisEndpoint: { readBy: 'operators', format: 'text' },
  redisReplicationGroupId: { readBy: 'pipeline', format: 'text' },
  deployRoleArn: { readBy: 'operators', format: 'arn:iam' },
  previewRoleArn: { readBy: 'operators', format: 'arn:iam' },
  workloadBoundaryArn: { readBy: 'operators', format: 'arn:iam' },
  logGroupName: { readBy: 'pipeline', format: 'text' },
  budgetName: { readBy: 'pipeline', format: 'text' },
  alertTopicArn: { readBy: 'pipeline', format: 'arn:sns' },
} as const satisfies Record<string, OutputSpec>

export type StackOutputName = keyof typeof STACK_OUTPUTS

export const STACK_OUTPUT_NAMES = Object.keys(STACK_OUTPUTS) as StackOutputName[]
