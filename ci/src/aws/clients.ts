// One place where the AWS SDK clients are built, so every call shares the same retry strategy and region,
// and tests can hand in clients whose `send` is scripted by aws-sdk-client-mock.
import { ACMClient } from '@aws-sdk/client-acm'
import { BudgetsClient } from '@aws-sdk/client-budgets'
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch'
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs'
import { CostExplorerClient } from '@aws-sdk/client-cost-explorer'
import { EC2Client } from '@aws-sdk/client-ec2'
import { ECRClient } from '@aws-sdk/client-ecr'
import { ECSClient, type ECSClientConfig } from '@aws-sdk/client-ecs'
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2'
import { ElastiCacheClient } from '@aws-sdk/client-elasticache'
import { RDSClient } from '@aws-sdk/client-rds'
import { S3Client } from '@aws-sdk/client-s3'
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { SNSClient } from '@aws-sdk/client-sns'
import { STSClient } from '@aws-sdk/client-sts'

export interface AwsClients {
  acm: ACMClient
  budgets: BudgetsClient
  cloudwatch: CloudWatchClient
  logs: CloudWatchLogsClient
  costExplorer: CostExplorerClient
  ec2: EC2Client
  ecr: ECRClient
  ecs: ECSClient
  elbv2: ElasticLoadBalancingV2Client
  elasticache: ElastiCacheClient
  rds: RDSClient
  s3: S3Client
  secretsManager: SecretsManagerClient
  sns: SNSClient
  sts: STSClient
}

export interface AwsClientOptions {
  region: string
  /** Attempts per call, first one included (AWS_MAX_ATTEMPTS, default 8): throttled calls back off and retry. */
  maxAttempts?: number
  /** A custom HTTP handler (a proxy agent, or a scripted transport in tests); the SDK's default otherwise. */
  requestHandler?: ECSClientConfig['requestHandler']
}

export const DEFAULT_MAX_ATTEMPTS = 8

/** Reads AWS_MAX_ATTEMPTS, falling back to the default when unset or not a positive integer. */
export function maxAttemptsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.AWS_MAX_ATTEMPTS)
  return Number.isInteger(value) && value > 0 ? value : DEFAULT_MAX_ATTEMPTS
}

/**
 * The SDK's adaptive retry mode backs off on throttling and also rate-limits the client itself, which is what
 * a long deploy polling several APIs needs. Cost Explorer and Budgets only answer in us-east-1.
 */
export function createAwsClients(options: AwsClientOptions): AwsClients {
  const common = {
    retryMode: 'adaptive',
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    ...(options.requestHandler ? { requestHandler: options.requestHandler } : {}),
  }
  const regional = { ...common, region: options.region }
  const global = { ...common, region: 'us-east-1' }
  return {
    acm: new ACMClient(regional),
    budgets: new BudgetsClient(global),
    cloudwatch: new CloudWatchClient(regional),
    logs: new CloudWatchLogsClient(regional),
    costExplorer: new CostExplorerClient(global),
    ec2: new EC2Client(regional),
    ecr: new ECRClient(regional),
    ecs: new ECSClient(regional),
    elbv2: new ElasticLoadBalancingV2Client(regional),
    elasticache: new ElastiCacheClient(regional),
    rds: new RDSClient(regional),
    s3: new S3Client(regional),
    secretsManager: new SecretsManagerClient(regional),
    sns: new SNSClient(regional),
    sts: new STSClient(regional),
  }
}

export function destroyAwsClients(clients: AwsClients): void {
  for (const client of Object.values(clients)) client.destroy()
}
