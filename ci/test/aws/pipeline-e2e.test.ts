// The pipeline core run end to end against the AWS target, with every AWS API scripted
// (aws-sdk-client-mock), a scripted Pulumi provisioner, container CLI and host tools.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm'
import { BudgetsClient, DescribeBudgetCommand } from '@aws-sdk/client-budgets'
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr'
import { DescribeTasksCommand, RunTaskCommand } from '@aws-sdk/client-ecs'
import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAwsTarget } from '../../src/aws/target.js'
import { runPipeline } from '../../src/core/pipeline.js'
import type { Tools } from '../../src/core/types.js'
import { OPS_LINES } from '../core/ops-lines.js'
import {
  ACCOUNT,
  arnOf,
  DIGEST_NEW,
  DIGEST_OLD,
  IMAGE_OLD,
  RAW_OUTPUTS,
  REPO,
  taskDefinition,
  testRuntime,
} from './fixtures.js'
import { type DeploymentFate, scriptedEcs } from './scripted-ecs.js'

const mocks = {
  sts: mockClient(STSClient),
  acm: mockClient(ACMClient),
  sns: mockClient(SNSClient),
  budgets: mockClient(BudgetsClient),
  s3: mockClient(S3Client),
  ecr: mockClient(ECRClient),
  logs: mockClient(CloudWatchLogsClient),
  elbv2: mockClient(ElasticLoadBalancingV2Client),
}
let dir: string

/** What each ops command prints last, as the image's ops commands do. */
const BACKUP_ID = '20261125T010000Z-a1'
const OPS_RESULTS: Record<string, string> = {
  backup: JSON.stringify({ ...OPS_LINES.backup, backupId: BACKUP_ID }),
  'verify-backup': JSON.stringify({ ...OPS_LINES['verify-backup'], backupId: BACKUP_ID }),
  'migration-status': JSON.stringify({
    ...OPS_LINES['migration-status'],
    pending: [{ migration: '0002_templates', verdict: 'safe', findings: [] }],
  }),
  migrate: JSON.stringify({ ...OPS_LINES.migrate, backupId: BACKUP_ID, applied: ['0002_templates'] }),
}

function scriptAccount(fate: (service: string, arn: string) => DeploymentFate) {
  mocks.sts
    .on(GetCallerIdentityCommand)
    .resolves({ Account: ACCOUNT, Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/deploy/ci` })
  mocks.acm
    .on(DescribeCertificateCommand)
    .resolves({ Certificate: { Status: 'ISSUED', DomainName: 'staging.example.com' } })
  mocks.sns.on(ListSubscriptionsByTopicCommand).resolves({
    Subscriptions: [{ SubscriptionArn: `${RAW_OUTPUTS.alertTopicArn}:1`, Endpoint: 'ops@example.com' }],
  })
  mocks.budgets
    .on(DescribeBudgetCommand)
    .resolves({ Budget: { BudgetLimit: { Amount: '200', Unit: 'USD' } } as never })
  let lock: string | undefined
  mocks.s3.on(PutObjectCommand).callsFake((input) => {
    if (String(input.Key).startsWith('releases/')) return {}
    if (lock)
      throw Object.assign(new Error('precondition'), {
        name: 'PreconditionFailed',
        $metadata: { httpStatusCode: 412 },
      })
    lock = input.Body
    return {}
  })
  mocks.s3.on(GetObjectCommand).callsFake(() => ({ Body: { transformToString: async () => lock ?? '{}' } }))
  mocks.s3.on(DeleteObjectCommand).callsFake(() => {
    lock = undefined
    return {}
  })
  const pushed = new Set<string>()
  mocks.ecr.on(DescribeImagesCommand).callsFake((input) => {
    const id = input.imageIds[0]
    if (id.imageTag && !pushed.has(id.imageTag))
      throw Object.assign(new Error('absent'), { name: 'ImageNotFoundException' })
    const digest = id.imageDigest ?? DIGEST_NEW
    return {
      imageDetails: [{ imageDigest: digest, imageTags: [digest === DIGEST_OLD ? 'old0001' : 'new0002'] }],
    }
  })
  mocks.ecr.on(GetAuthorizationTokenCommand).resolves({
    authorizationData: [{ authorizationToken: Buffer.from('AWS:pw').toString('base64') }],
  })
  mocks.elbv2.on(DescribeTargetHealthCommand).resolves({
    TargetHealthDescriptions: [
      { Target: { Id: '10.0.11.7', Port: 3000 }, TargetHealth: { State: 'healthy' } },
    ],
  })

  const ecs = scriptedEcs({
    definitions: [
      taskDefinition('app-api', 1, IMAGE_OLD),
      taskDefinition('app-worker', 1, IMAGE_OLD),
      taskDefinition('whatsapp-saas-staging-ops', 1, IMAGE_OLD),
    ],
    services: { api: arnOf('app-api', 1), worker: arnOf('app-worker', 1) },
    fate,
  })
  const ran: string[] = []
  ecs.mock.on(RunTaskCommand).callsFake((input) => {
    const command = input.overrides.containerOverrides[0].command[2] as string
    ran.push(command)
    return { tasks: [{ taskArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:task/c/${command}-${ran.length}` }] }
  })
  ecs.mock.on(DescribeTasksCommand).callsFake((input) => ({
    tasks: input.tasks.map((arn: string) => ({
      taskArn: arn,
      lastStatus: 'STOPPED',
      containers: [{ name: 'api', exitCode: 0 }],
    })),
  }))
  mocks.logs.on(GetLogEventsCommand).callsFake((input) => {
    const command = input.logStreamName.split('/').at(-1).replace(/-\d+$/, '')
    return input.nextToken
      ? { events: [], nextForwardToken: input.nextToken }
      : {
          events: [{ message: `${command} running` }, { message: OPS_RESULTS[command] }],
          nextForwardToken: 'f/1',
        }
  })
  return { ecs, ran, pushed }
}

function scriptedTools(): Tools {
  return {
    build: async () => ({ summary: 'built' }),
    test: async () => ({ summary: 'tested' }),
    package: async () => ({
      ref: 'whatsapp-saas-api',
      digest: `sha256:${'e'.repeat(64)}`,
      version: 'new0002',
    }),
    smoke: async () => ({ passed: true, summary: 'smoke passed', details: {} }),
    load: async () => ({ runner: 'autocannon', passed: true, thresholds: {}, exitCode: 0 }),
  }
}

async function awsTarget(pushed: Set<string>) {
  const runtime = testRuntime()
  return createAwsTarget({
    stack: 'staging',
    clients: runtime.clients,
    clock: runtime.clock,
    timeouts: runtime.timeouts,
    stateDir: dir,
    provisioner: {
      preview: async () => ({ summary: 'no changes', changes: [] }),
      up: async () => ({ summary: 'succeeded: no changes', outputs: RAW_OUTPUTS }),
      outputs: async () => RAW_OUTPUTS,
    },
    containerCli: async () => ({
      name: 'docker',
      login: async () => {},
      tag: async () => {},
      push: async (image) => {
        pushed.add(image.slice(image.lastIndexOf(':') + 1))
      },
    }),
  })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aws-pipeline-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})
beforeEach(() => {
  for (const mock of Object.values(mocks)) mock.reset()
})

describe('the pipeline core against the AWS target', () => {
  it('deploys: publish by digest, provision, backup + verify, migrate, roll out both services, smoke, load', async () => {
    const { ecs, ran, pushed } = scriptAccount(() => 'complete')
    const report = await runPipeline({
      target: await awsTarget(pushed),
      tools: scriptedTools(),
      reportsDir: join(dir, 'reports'),
      runId: 'e2e-ok',
    })

    expect(report.reason).toBeUndefined()
    expect(report.status).toBe('succeeded')
    expect(report.artifact).toMatchObject({ ref: REPO, digest: DIGEST_NEW })
    expect(report.url).toBe('https://staging.example.com')
    expect(report.stages.map((stage) => `${stage.name}:${stage.status}`)).toEqual([
      'build:succeeded',
      'test:succeeded',
      'package:succeeded',
      'publish:succeeded',
      'provision:succeeded',
      'backup:succeeded',
      'migrate:succeeded',
      'rollout:succeeded',
      'smoke:succeeded',
      'load:succeeded',
      'report:succeeded',
    ])
    expect(ran).toEqual(['backup', 'verify-backup', 'migration-status', 'migrate'])
    // This scripted provisioner leaves Pulumi's revision on the old image: the ops tasks (app-api:2) and the
    // rollout (app-api:3) each register a copy of it with the new one.
    expect(ecs.services.api!.taskDefinition).toBe(arnOf('app-api', 3))
    expect(
      ecs.registered.every((input) => input.containerDefinitions?.[0]?.image === `${REPO}@${DIGEST_NEW}`),
    ).toBe(true)
    // The deploy lock was released at the end.
    expect(mocks.s3.commandCalls(DeleteObjectCommand)).toHaveLength(1)
  })

  it('a rollout the circuit breaker rolled back is never reported as a success', async () => {
    const { ecs, pushed } = scriptAccount((service) => (service === 'api' ? 'circuit-breaker' : 'complete'))
    const report = await runPipeline({
      target: await awsTarget(pushed),
      tools: scriptedTools(),
      reportsDir: join(dir, 'reports'),
      runId: 'e2e-breaker',
    })

    expect(report.status).not.toBe('succeeded')
    const rollout = report.stages.find((stage) => stage.name === 'rollout')!
    expect(rollout.status).toBe('failed')
    expect(report.reason).toMatch(/circuit breaker/)
    expect(report.stages.find((stage) => stage.name === 'smoke')?.status ?? 'skipped').not.toBe('succeeded')
    expect(ecs.services.api!.taskDefinition).toBe(arnOf('app-api', 1))
  })
})
