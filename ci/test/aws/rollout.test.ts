import { ListTasksCommand, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs'
import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { previousRevision, restartServices, rolloutImage } from '../../src/aws/rollout.js'
import {
  arnOf,
  IMAGE_NEW,
  IMAGE_OLD,
  OUTPUTS,
  REPO,
  taskDefinition,
  testContext,
  testRuntime,
} from './fixtures.js'
import { type DeploymentFate, scriptedEcs } from './scripted-ecs.js'

const elbv2 = mockClient(ElasticLoadBalancingV2Client)
/** Pulumi's revisions are the serving ones (the services run what the last provision registered). */
const PULUMI = {
  ...OUTPUTS,
  apiTaskDefinitionArn: arnOf('app-api', 4),
  workerTaskDefinitionArn: arnOf('app-worker', 7),
}

function healthyTargets() {
  elbv2.on(DescribeTargetHealthCommand).resolves({
    TargetHealthDescriptions: [
      { Target: { Id: '10.0.11.5', Port: 3000 }, TargetHealth: { State: 'healthy' } },
      { Target: { Id: '10.0.12.6', Port: 3000 }, TargetHealth: { State: 'healthy' } },
      { Target: { Id: '10.0.12.9', Port: 3000 }, TargetHealth: { State: 'draining' } },
    ],
  })
}

function ecsWith(fate?: (service: string, arn: string) => DeploymentFate) {
  return scriptedEcs({
    definitions: [taskDefinition('app-api', 4, IMAGE_OLD), taskDefinition('app-worker', 7, IMAGE_OLD)],
    services: { api: arnOf('app-api', 4), worker: arnOf('app-worker', 7) },
    fate,
  })
}

describe('rollout of the API and worker services', () => {
  beforeEach(() => elbv2.reset())
  afterEach(() => elbv2.restore())

  it('registers a copy of each serving revision with the new image, follows both deployments and waits for healthy targets', async () => {
    const ecs = ecsWith()
    healthyTargets()
    const ctx = testContext()
    const outcome = await rolloutImage(testRuntime(), PULUMI, IMAGE_NEW, ctx)

    expect(outcome.status).toBe('succeeded')
    expect(ecs.updates).toEqual([
      { service: 'api', taskDefinition: arnOf('app-api', 5) },
      { service: 'worker', taskDefinition: arnOf('app-worker', 8) },
    ])
    expect(ecs.services.api!.taskDefinition).toBe(arnOf('app-api', 5))
    expect(ecs.registered.map((input) => input.containerDefinitions?.[0]?.image)).toEqual([
      IMAGE_NEW,
      IMAGE_NEW,
    ])
    expect(outcome.summary).toContain('2 healthy target(s)')
    expect(ecs.mock.commandCalls(UpdateServiceCommand)).toHaveLength(2)
    ecs.mock.restore()
  })

  it('keeps the service events of a failed rollout when listing its stopped tasks is denied', async () => {
    const ecs = ecsWith((service) => (service === 'api' ? 'circuit-breaker' : 'complete'))
    ecs.mock.on(ListTasksCommand).rejects(
      Object.assign(new Error('not authorized to perform: ecs:ListTasks'), {
        name: 'AccessDeniedException',
      }),
    )
    healthyTargets()
    const outcome = await rolloutImage(testRuntime(), PULUMI, IMAGE_NEW, testContext())

    expect(outcome.status).toBe('failed')
    const [api] = outcome.details.services as { events: string[]; stoppedTasksError: string }[]
    expect(api!.events.join('\n')).toContain('deployment failed: tasks failed to start')
    expect(api!.stoppedTasksError).toContain('ecs:ListTasks')
    ecs.mock.restore()
  })

  it("registers Pulumi's revision with the new image, not a copy of the serving one", async () => {
    // Pulumi's revision (app-api:5) carries a setting the serving one (app-api:4) does not.
    const pulumiApi = taskDefinition('app-api', 5, IMAGE_OLD)
    pulumiApi.containerDefinitions![0]!.environment = [
      { name: 'PUBLIC_URL', value: 'https://new.example.com' },
    ]
    const ecs = scriptedEcs({
      definitions: [
        taskDefinition('app-api', 4, IMAGE_OLD),
        pulumiApi,
        taskDefinition('app-worker', 7, IMAGE_OLD),
      ],
      services: { api: arnOf('app-api', 4), worker: arnOf('app-worker', 7) },
    })
    healthyTargets()
    const outputs = { ...PULUMI, apiTaskDefinitionArn: arnOf('app-api', 5) }
    const outcome = await rolloutImage(testRuntime(), outputs, IMAGE_NEW, testContext())

    expect(outcome.status).toBe('succeeded')
    const registeredApi = ecs.registered.find((input) => input.family === 'app-api')!
    expect(registeredApi.containerDefinitions![0]!.environment).toEqual([
      { name: 'PUBLIC_URL', value: 'https://new.example.com' },
    ])
    expect(registeredApi.containerDefinitions![0]!.image).toBe(IMAGE_NEW)
    ecs.mock.restore()
  })

  it('reports a deployment the circuit breaker rolled back as failed, with events and stopped-task reasons', async () => {
    const ecs = ecsWith((service) => (service === 'api' ? 'circuit-breaker' : 'complete'))
    healthyTargets()
    const outcome = await rolloutImage(testRuntime(), PULUMI, IMAGE_NEW, testContext())

    expect(outcome.status).toBe('failed')
    expect(outcome.summary).toMatch(/circuit breaker/)
    expect(outcome.summary).toContain('rolled it back to app-api:4')
    const [api] = outcome.details.services as {
      events: string[]
      stoppedTasks: { stoppedReason: string; containers: string[] }[]
    }[]
    expect(api!.events.join('\n')).toContain('deployment failed: tasks failed to start')
    expect(api!.stoppedTasks[0]!.stoppedReason).toBe('Essential container in task exited')
    expect(api!.stoppedTasks[0]!.containers).toEqual(['api: exit 1'])
    // The worker is never touched once the API failed.
    expect(ecs.updates.map((update) => update.service)).toEqual(['api'])
    ecs.mock.restore()
  })

  it('rolls the services back itself when a deployment is stuck past the timeout', async () => {
    const ecs = ecsWith((service, arn) =>
      service === 'api' && arn === arnOf('app-api', 5) ? 'stuck' : 'complete',
    )
    healthyTargets()
    const runtime = testRuntime({ rolloutTimeoutMs: 60_000, pollIntervalMs: 5_000 })
    const ctx = testContext()
    const outcome = await rolloutImage(runtime, PULUMI, IMAGE_NEW, ctx)

    expect(outcome.status).toBe('rolled_back')
    expect(outcome.summary).toMatch(/rollout of api timed out/)
    expect(ecs.updates).toEqual([
      { service: 'api', taskDefinition: arnOf('app-api', 5) },
      { service: 'api', taskDefinition: arnOf('app-api', 4) },
    ])
    expect(ecs.services.api!.taskDefinition).toBe(arnOf('app-api', 4))
    // The wait was bounded by the fake clock, not real time.
    expect(runtime.clock.slept).toBeGreaterThanOrEqual(60_000)
    ecs.mock.restore()
  })

  it('returns the API to its previous revision when the worker fails after the API completed', async () => {
    const ecs = ecsWith((service) => (service === 'worker' ? 'circuit-breaker' : 'complete'))
    healthyTargets()
    const outcome = await rolloutImage(testRuntime(), PULUMI, IMAGE_NEW, testContext())

    expect(outcome.status).toBe('failed')
    expect(ecs.updates.at(-1)).toEqual({ service: 'api', taskDefinition: arnOf('app-api', 4) })
    expect(ecs.services.api!.taskDefinition).toBe(arnOf('app-api', 4))
    ecs.mock.restore()
  })

  it('rolls back when the ALB targets never all turn healthy', async () => {
    const ecs = ecsWith()
    elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        {
          Target: { Id: '10.0.11.5', Port: 3000 },
          TargetHealth: { State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch' },
        },
      ],
    })
    const outcome = await rolloutImage(testRuntime(), PULUMI, IMAGE_NEW, testContext())

    expect(outcome.status).toBe('rolled_back')
    expect(outcome.summary).toMatch(/ALB targets never all turned healthy/)
    expect(ecs.services.api!.taskDefinition).toBe(arnOf('app-api', 4))
    expect(ecs.services.worker!.taskDefinition).toBe(arnOf('app-worker', 7))
    ecs.mock.restore()
  })

  it('in dry-run shows the diff (the image only) and registers nothing', async () => {
    const ecs = ecsWith()
    const ctx = testContext({ dryRun: true })
    const outcome = await rolloutImage(testRuntime(), PULUMI, IMAGE_NEW, ctx)

    expect(outcome.status).toBe('succeeded')
    expect(outcome.details.diff).toEqual({
      api: [`containerDefinitions[0].image: "${IMAGE_OLD}" → "${IMAGE_NEW}"`],
      worker: [`containerDefinitions[0].image: "${IMAGE_OLD}" → "${IMAGE_NEW}"`],
    })
    expect(ecs.mock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0)
    expect(ecs.mock.commandCalls(UpdateServiceCommand)).toHaveLength(0)
    ecs.mock.restore()
  })

  it('on Ctrl-C reports the revisions it registered and the services it updated', async () => {
    const ecs = ecsWith(() => 'stuck')
    healthyTargets()
    const controller = new AbortController()
    const runtime = testRuntime()
    const sleep = runtime.clock.sleep
    runtime.clock.sleep = async (ms, signal) => {
      controller.abort()
      return sleep(ms, signal)
    }
    const error = await rolloutImage(
      runtime,
      PULUMI,
      IMAGE_NEW,
      testContext({ signal: controller.signal }),
    ).catch((caught: Error) => caught)
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toContain('registered revision app-api:5')
    expect((error as Error).message).toContain('registered revision app-worker:8')
    expect((error as Error).message).toMatch(/api was updated to app-api:5 \(deployment ecs-svc\/\d+\)/)
    ecs.mock.restore()
  })

  it('restarts both services on their serving revisions with a forced new deployment, followed to completion', async () => {
    const ecs = ecsWith()
    healthyTargets()
    const outcome = await restartServices(testRuntime(), PULUMI, testContext())
    expect(outcome.status).toBe('succeeded')
    expect(ecs.updates).toEqual([
      { service: 'api', taskDefinition: arnOf('app-api', 4) },
      { service: 'worker', taskDefinition: arnOf('app-worker', 7) },
    ])
    expect(
      ecs.mock.commandCalls(UpdateServiceCommand).map((call) => call.args[0].input.forceNewDeployment),
    ).toEqual([true, true])
    expect(ecs.registered).toHaveLength(0)
    ecs.mock.restore()
  })

  it('finds the previous revision that runs a different image', async () => {
    const ecs = scriptedEcs({
      definitions: [
        taskDefinition('app-api', 2, `${REPO}:bootstrap`),
        taskDefinition('app-api', 3, IMAGE_OLD),
        taskDefinition('app-api', 4, IMAGE_NEW),
        taskDefinition('app-api', 5, IMAGE_NEW),
        taskDefinition('app-worker', 1, `${REPO}:bootstrap`),
        taskDefinition('app-worker', 2, IMAGE_NEW),
      ],
      services: { api: arnOf('app-api', 5), worker: arnOf('app-worker', 2) },
    })
    await expect(previousRevision(testRuntime(), OUTPUTS, 'api')).resolves.toEqual({
      currentArn: arnOf('app-api', 5),
      previousArn: arnOf('app-api', 3),
    })
    await expect(previousRevision(testRuntime(), OUTPUTS, 'worker')).rejects.toThrow(
      /no earlier ACTIVE revision/,
    )
    ecs.mock.restore()
  })
})
