// Shared scripted pieces of the AWS target tests: valid stack outputs, a fake clock, a recording log.
import type { TaskDefinition } from '@aws-sdk/client-ecs'
import { createAwsClients } from '../../src/aws/clients.js'
import { type AwsRuntime, createRuntime } from '../../src/aws/runtime.js'
import { parseStackOutputs, type StackOutputs } from '../../src/aws/stack-outputs.js'
import type { Clock } from '../../src/aws/waiting.js'
import type { RunContext, StageLog } from '../../src/core/types.js'

export const ACCOUNT = '123456789012'
export const REPO = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/whatsapp-saas-api`
export const DIGEST_OLD = `sha256:${'a'.repeat(64)}`
export const DIGEST_NEW = `sha256:${'b'.repeat(64)}`
export const IMAGE_OLD = `${REPO}@${DIGEST_OLD}`
export const IMAGE_NEW = `${REPO}@${DIGEST_NEW}`
export const CLUSTER = 'whatsapp-saas-staging'
export const TG_ARN = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT}:targetgroup/api/0123456789abcdef`

export const RAW_OUTPUTS: Record<string, string> = {
  clusterName: CLUSTER,
  apiServiceName: 'api',
  workerServiceName: 'worker',
  taskFamily: 'whatsapp-saas-staging-ops',
  apiTaskDefinitionArn: arnOf('app-api', 1),
  workerTaskDefinitionArn: arnOf('app-worker', 1),
  privateSubnetIds: 'subnet-0a1,subnet-0b2',
  taskSecurityGroupId: 'sg-0a5f',
  albDnsName: 'whatsapp-saas-staging-123.us-east-1.elb.amazonaws.com',
  targetGroupArn: TG_ARN,
  ecrRepositoryUrl: REPO,
  backupBucket: 'whatsapp-saas-staging-backups',
  backupStore: 's3://whatsapp-saas-staging-backups/backups',
  backupKmsKeyArn: `arn:aws:kms:us-east-1:${ACCOUNT}:key/1111-2222`,
  databaseEndpoint: 'db.abc.us-east-1.rds.amazonaws.com:5432',
  dbInstanceId: 'whatsapp-saas-staging-db',
  databaseMaxConnections: '150',
  redisReplicationGroupId: 'whatsapp-saas-staging-redis',
  logGroupName: '/ecs/whatsapp-saas-staging',
  region: 'us-east-1',
  url: 'https://staging.example.com',
  vpcId: 'vpc-0abc',
  budgetName: 'whatsapp-saas-staging-monthly',
  alertTopicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:whatsapp-saas-staging-alerts`,
  certificateArn: `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/abcd`,
  domain: 'staging.example.com',
}

export const OUTPUTS: StackOutputs = parseStackOutputs(RAW_OUTPUTS)

/** A clock whose sleep only advances time, so minute-long waits run instantly. */
export function fakeClock(start = Date.parse('2026-11-25T01:00:00Z')): Clock & { slept: number } {
  let now = start
  const clock = {
    slept: 0,
    now: () => now,
    sleep: async (ms: number, signal: AbortSignal) => {
      if (signal.aborted) throw new Error('aborted')
      now += ms
      clock.slept += ms
    },
  }
  return clock
}

export function testRuntime(overrides: Parameters<typeof createRuntime>[1] = {}): AwsRuntime & {
  clock: ReturnType<typeof fakeClock>
} {
  const clock = fakeClock()
  const runtime = createRuntime(
    createAwsClients({ region: 'us-east-1', maxAttempts: 1 }),
    {
      pollIntervalMs: 5_000,
      rolloutTimeoutMs: 60_000,
      targetsHealthyTimeoutMs: 30_000,
      taskTimeoutMs: 60_000,
      databaseTimeoutMs: 60_000,
      ...overrides,
    },
    clock,
  )
  return runtime as AwsRuntime & { clock: ReturnType<typeof fakeClock> }
}

export interface RecordingLog extends StageLog {
  lines: string[]
}

export function recordingLog(): RecordingLog {
  const lines: string[] = []
  return { lines, info: (line) => lines.push(line), warn: (line) => lines.push(`WARN ${line}`) }
}

export function testContext(overrides: Partial<RunContext> = {}): RunContext & { log: RecordingLog } {
  return {
    runId: 'run-1',
    target: 'aws',
    stack: 'staging',
    dryRun: false,
    log: recordingLog(),
    signal: new AbortController().signal,
    ...overrides,
  } as RunContext & { log: RecordingLog }
}

/** A task definition as DescribeTaskDefinition returns it, read-only fields included. */
export function taskDefinition(family: string, revision: number, image: string): TaskDefinition {
  return {
    taskDefinitionArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/${family}:${revision}`,
    family,
    revision,
    status: 'ACTIVE',
    taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/${family}-task`,
    executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/${family}-execution`,
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    compatibilities: ['EC2', 'FARGATE'],
    requiresAttributes: [{ name: 'com.amazonaws.ecs.capability.logging-driver.awslogs' }],
    cpu: '256',
    memory: '512',
    runtimePlatform: { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' },
    registeredAt: new Date('2026-11-20T00:00:00Z'),
    registeredBy: `arn:aws:sts::${ACCOUNT}:assumed-role/deploy/ci`,
    containerDefinitions: [
      {
        name: family.endsWith('worker') ? 'worker' : 'api',
        image,
        essential: true,
        command: family.endsWith('worker')
          ? ['node', '--max-old-space-size=128', 'dist/worker.js']
          : ['node', 'dist/server.js'],
        portMappings: [{ containerPort: 3000, protocol: 'tcp' }],
        environment: [{ name: 'NODE_ENV', value: 'production' }],
        secrets: [
          { name: 'DATABASE_URL', valueFrom: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:db` },
        ],
        stopTimeout: 30,
        logConfiguration: {
          logDriver: 'awslogs',
          options: {
            'awslogs-group': '/ecs/whatsapp-saas-staging',
            'awslogs-region': 'us-east-1',
            'awslogs-stream-prefix': 'ecs',
          },
        },
      },
      {
        name: 'otel-sidecar',
        image: 'public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0',
        essential: false,
      },
    ],
  }
}

export function arnOf(family: string, revision: number): string {
  return `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/${family}:${revision}`
}
