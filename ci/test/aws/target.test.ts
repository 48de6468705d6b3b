import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm'
import { BudgetsClient, DescribeBudgetCommand } from '@aws-sdk/client-budgets'
import { DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr'
import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ContainerCli } from '../../src/aws/container-cli.js'
import type { StackProvisioner } from '../../src/aws/provisioner.js'
import { createAwsTarget } from '../../src/aws/target.js'
import {
  ACCOUNT,
  arnOf,
  DIGEST_NEW,
  DIGEST_OLD,
  IMAGE_NEW,
  IMAGE_OLD,
  RAW_OUTPUTS,
  REPO,
  taskDefinition,
  testContext,
  testRuntime,
} from './fixtures.js'
import { scriptedEcs } from './scripted-ecs.js'

const sts = mockClient(STSClient)
const acm = mockClient(ACMClient)
const sns = mockClient(SNSClient)
const budgets = mockClient(BudgetsClient)
const s3 = mockClient(S3Client)
const ecr = mockClient(ECRClient)
const elbv2 = mockClient(ElasticLoadBalancingV2Client)
let stateDir: string

function scriptedProvisioner(
  outputs: Record<string, string> = RAW_OUTPUTS,
): StackProvisioner & { ups: number } {
  const provisioner = {
    ups: 0,
    preview: async () => ({ summary: 'update: 1', changes: ['update: 1'] }),
    up: async () => {
      provisioner.ups++
      return { summary: 'succeeded: update: 1', outputs }
    },
    outputs: async () => outputs,
  }
  return provisioner
}

async function target(options: Partial<Parameters<typeof createAwsTarget>[0]> = {}) {
  const runtime = testRuntime()
  return createAwsTarget({
    stack: 'staging',
    clients: runtime.clients,
    clock: runtime.clock,
    timeouts: runtime.timeouts,
    provisioner: scriptedProvisioner(),
    stateDir,
    ...options,
  })
}

/** The part of GetObject's streaming body the lock reads. */
function body(text: string) {
  return { transformToString: async () => text } as never
}

function allGood() {
  sts
    .on(GetCallerIdentityCommand)
    .resolves({ Account: ACCOUNT, Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/deploy/ci` })
  acm.on(DescribeCertificateCommand).resolves({
    Certificate: {
      Status: 'ISSUED',
      DomainName: '*.example.com',
      SubjectAlternativeNames: ['*.example.com'],
    },
  })
  sns.on(ListSubscriptionsByTopicCommand).resolves({
    Subscriptions: [{ SubscriptionArn: `${RAW_OUTPUTS.alertTopicArn}:sub-1`, Endpoint: 'ops@example.com' }],
  })
  budgets
    .on(DescribeBudgetCommand)
    .resolves({ Budget: { BudgetName: 'b', BudgetLimit: { Amount: '200', Unit: 'USD' } } as never })
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'aws-target-'))
})
afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true })
})
beforeEach(() => {
  for (const mock of [sts, acm, sns, budgets, s3, ecr, elbv2]) mock.reset()
})

describe('preflight', () => {
  it('passes with every item met', async () => {
    allGood()
    const met = await (await target()).preflight(testContext())
    expect(met).toEqual([
      `credentials valid (account ${ACCOUNT}, arn:aws:sts::${ACCOUNT}:assumed-role/deploy/ci)`,
      'stack staging outputs complete',
      'certificate ISSUED for staging.example.com',
      'alerts confirmed for ops@example.com',
      'budget whatsapp-saas-staging-monthly present (200 USD)',
    ])
  })

  it('lists every unmet item: certificate pending, alert subscription unconfirmed, budget missing', async () => {
    allGood()
    acm
      .on(DescribeCertificateCommand)
      .resolves({ Certificate: { Status: 'PENDING_VALIDATION', DomainName: 'staging.example.com' } })
    sns.on(ListSubscriptionsByTopicCommand).resolves({
      Subscriptions: [{ SubscriptionArn: 'PendingConfirmation', Endpoint: 'ops@example.com' }],
    })
    budgets
      .on(DescribeBudgetCommand)
      .rejects(Object.assign(new Error('Unable to get budget'), { name: 'NotFoundException' }))
    const error = (await (
      await target()
    )
      .preflight(testContext())
      .catch((caught: Error) => caught)) as Error & {
      unmet: string[]
    }
    expect(error.unmet).toEqual([
      `certificate: Error: certificate ${RAW_OUTPUTS.certificateArn} is PENDING_VALIDATION, not ISSUED (finish its DNS validation)`,
      'alerts: Error: alert subscription of ops@example.com is PendingConfirmation: confirm the e-mail AWS sent',
      'budget: NotFoundException: Unable to get budget',
    ])
    expect(error.message).toContain('3 unmet item(s)')
  })

  it('names every missing or malformed stack output', async () => {
    allGood()
    const { budgetName: _b, alertTopicArn: _a, ...partial } = RAW_OUTPUTS
    const error = (await (
      await target({ outputs: { ...partial, region: 'mars' } })
    )
      .preflight(testContext())
      .catch((caught: Error) => caught)) as Error & { unmet: string[] }
    expect(error.unmet).toEqual([
      'stack output "region" must be an AWS region (got "mars")',
      'stack output "budgetName" is missing',
      'stack output "alertTopicArn" is missing',
    ])
  })

  it('a stack without outputs yet only checks credentials and warns', async () => {
    allGood()
    const ctx = testContext()
    const met = await (await target({ provisioner: scriptedProvisioner({}) })).preflight(ctx)
    expect(met).toHaveLength(1)
    expect(ctx.log.lines.join('\n')).toMatch(/no outputs yet/)
  })
})

describe('deploy lock', () => {
  it('takes the lock with a conditional put and releases only its own', async () => {
    s3.on(PutObjectCommand).resolves({})
    s3.on(GetObjectCommand).callsFake(() => ({ Body: body(JSON.stringify({ runId: 'run-1' })) }))
    s3.on(DeleteObjectCommand).resolves({})
    const lock = await (await target()).acquireLock(testContext())
    const put = s3.commandCalls(PutObjectCommand)[0]!.args[0].input
    expect(put).toMatchObject({
      Bucket: RAW_OUTPUTS.backupBucket,
      Key: 'locks/deploy-staging.json',
      IfNoneMatch: '*',
    })
    await lock.release()
    expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(1)
  })

  it('refuses while another run holds it and names the holder', async () => {
    s3.on(PutObjectCommand).rejects(
      Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
        name: 'PreconditionFailed',
        $metadata: { httpStatusCode: 412 },
      }),
    )
    s3.on(GetObjectCommand).callsFake(() => ({
      Body: body(
        JSON.stringify({
          runId: 'run-0',
          holder: 'alice@laptop',
          pid: 4242,
          since: '2026-11-25T00:55:00.000Z',
        }),
      ),
    }))
    await expect((await target()).acquireLock(testContext())).rejects.toThrow(
      'stack staging is being deployed by alice@laptop (run run-0, pid 4242, since 2026-11-25T00:55:00.000Z)',
    )
  })

  it('takes over a lock older than its time-to-live', async () => {
    s3.on(PutObjectCommand)
      .rejectsOnce(
        Object.assign(new Error('precondition'), {
          name: 'PreconditionFailed',
          $metadata: { httpStatusCode: 412 },
        }),
      )
      .resolves({})
    s3.on(GetObjectCommand).callsFake(() => ({
      Body: body(
        JSON.stringify({ runId: 'run-0', holder: 'bob@ci', pid: 1, since: '2026-11-24T01:00:00.000Z' }),
      ),
    }))
    s3.on(DeleteObjectCommand).resolves({})
    const ctx = testContext()
    await (await target()).acquireLock(ctx)
    expect(ctx.log.lines.join('\n')).toMatch(/taking over a stale deploy lock of bob@ci/)
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(2)
  })
})

describe('publish', () => {
  function scriptedCli(): ContainerCli & { calls: string[] } {
    const calls: string[] = []
    return {
      name: 'docker',
      calls,
      login: async (registry, username, password) => {
        calls.push(`login ${registry} ${username} ${password.length}`)
      },
      tag: async (source, targetImage) => {
        calls.push(`tag ${source} ${targetImage}`)
      },
      push: async (image) => {
        calls.push(`push ${image}`)
      },
    }
  }

  it('logs in to ECR, pushes the git-SHA tag and carries the digest ECR reports', async () => {
    ecr
      .on(DescribeImagesCommand)
      .rejectsOnce(Object.assign(new Error('not found'), { name: 'ImageNotFoundException' }))
      .resolves({ imageDetails: [{ imageDigest: DIGEST_NEW, imageTags: ['abc1234'] }] })
    ecr.on(GetAuthorizationTokenCommand).resolves({
      authorizationData: [{ authorizationToken: Buffer.from('AWS:registry-password').toString('base64') }],
    })
    const cli = scriptedCli()
    const published = await (await target({ containerCli: async () => cli })).publish(
      { ref: 'whatsapp-saas-api', digest: `sha256:${'c'.repeat(64)}`, version: 'abc1234' },
      testContext(),
    )
    expect(published).toEqual({ ref: REPO, digest: DIGEST_NEW, version: 'abc1234' })
    expect(cli.calls).toEqual([
      `login ${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com AWS 17`,
      `tag whatsapp-saas-api:abc1234 ${REPO}:abc1234`,
      `push ${REPO}:abc1234`,
    ])
  })

  it('fails with one line naming what to install when no container CLI exists', async () => {
    ecr
      .on(DescribeImagesCommand)
      .rejects(Object.assign(new Error('not found'), { name: 'ImageNotFoundException' }))
    ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [{ authorizationToken: 'QVdTOng=' }] })
    const { ToolMissingError } = await import('../../src/aws/errors.js')
    const missing = async () => {
      throw new ToolMissingError(
        'no container CLI found: install docker (apt-get install docker.io) or podman',
      )
    }
    await expect(
      (await target({ containerCli: missing })).publish(
        { ref: 'app', digest: DIGEST_NEW, version: 'v1' },
        testContext(),
      ),
    ).rejects.toThrow(/install docker/)
  })
})

describe('provision, current, rollback', () => {
  it('previews in dry-run and runs up otherwise, validating and caching the outputs', async () => {
    const provisioner = scriptedProvisioner()
    const aws = await target({ provisioner })
    const preview = await aws.provision(testContext({ dryRun: true }))
    expect(preview.changes).toEqual(['update: 1'])
    expect(provisioner.ups).toBe(0)
    const applied = await aws.provision(testContext())
    expect(applied.outputs).toEqual(RAW_OUTPUTS)
    expect(JSON.parse(await readFile(join(stateDir, 'aws', 'staging', 'outputs.json'), 'utf8'))).toEqual(
      RAW_OUTPUTS,
    )
  })

  it('rejects outputs that do not match the contract in one error', async () => {
    const aws = await target({
      provisioner: scriptedProvisioner({ ...RAW_OUTPUTS, ecrRepositoryUrl: 'docker.io/x' }),
    })
    await expect(aws.provision(testContext())).rejects.toThrow(
      /stack output "ecrRepositoryUrl" must be an ECR repository URL/,
    )
  })

  it('reports the serving digest and rolls back to the previous revision or to a given digest', async () => {
    const ecs = scriptedEcs({
      definitions: [
        taskDefinition('app-api', 1, IMAGE_OLD),
        taskDefinition('app-api', 2, IMAGE_NEW),
        taskDefinition('app-worker', 1, IMAGE_OLD),
        taskDefinition('app-worker', 2, IMAGE_NEW),
      ],
      services: { api: arnOf('app-api', 2), worker: arnOf('app-worker', 2) },
    })
    ecr.on(DescribeImagesCommand).callsFake((input) => ({
      imageDetails: [
        {
          imageDigest: input.imageIds[0].imageDigest,
          imageTags: [input.imageIds[0].imageDigest === DIGEST_OLD ? 'old1234' : 'new5678'],
        },
      ],
    }))
    elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        { Target: { Id: '10.0.11.4', Port: 3000 }, TargetHealth: { State: 'healthy' } },
      ],
    })
    const aws = await target()
    const ctx = testContext()
    expect(await aws.current(ctx)).toEqual({ ref: REPO, digest: DIGEST_NEW, version: 'new5678' })

    const back = await aws.rollback(ctx)
    expect(back.status).toBe('rolled_back')
    expect(back.current).toEqual({ ref: REPO, digest: DIGEST_OLD, version: 'old1234' })
    expect(ecs.updates).toEqual([
      { service: 'api', taskDefinition: arnOf('app-api', 1) },
      { service: 'worker', taskDefinition: arnOf('app-worker', 1) },
    ])
    expect(ecs.registered).toHaveLength(0)

    const forward = await aws.rollback(ctx, { ref: REPO, digest: DIGEST_NEW, version: 'new5678' })
    expect(forward.status).toBe('rolled_back')
    expect(forward.current?.digest).toBe(DIGEST_NEW)
    expect(ecs.registered.map((input) => input.containerDefinitions?.[0]?.image)).toEqual([
      IMAGE_NEW,
      IMAGE_NEW,
    ])
    expect(await aws.baseUrl(ctx)).toBe('https://staging.example.com')
    ecs.mock.restore()
  })

  it('reports nothing serving while the services still run the infra placeholder image', async () => {
    const ecs = scriptedEcs({
      definitions: [
        taskDefinition('app-api', 1, `${REPO}:bootstrap`),
        taskDefinition('app-worker', 1, `${REPO}:bootstrap`),
      ],
      services: { api: arnOf('app-api', 1), worker: arnOf('app-worker', 1) },
    })
    ecr
      .on(DescribeImagesCommand)
      .rejects(Object.assign(new Error('absent'), { name: 'ImageNotFoundException' }))
    expect(await (await target()).current(testContext())).toBeUndefined()
    ecs.mock.restore()
  })
})
