// A small scripted model of ECS services for aws-sdk-client-mock: UpdateService creates a deployment whose
// fate (completes, circuit-breaker rollback, stuck) the test chooses per service and revision.
import {
  type Deployment,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  type ServiceEvent,
  type TaskDefinition,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs'
import { mockClient } from 'aws-sdk-client-mock'
import { arnOf } from './fixtures.js'

export type DeploymentFate = 'complete' | 'circuit-breaker' | 'stuck'

interface ServiceState {
  taskDefinition: string
  deployments: (Deployment & { polls: number })[]
  events: ServiceEvent[]
}

export interface ScriptedEcsOptions {
  definitions: TaskDefinition[]
  services: Record<string, string>
  fate?: (serviceName: string, taskDefinitionArn: string) => DeploymentFate
  /** Polls an IN_PROGRESS deployment needs before its fate happens. */
  pollsToSettle?: number
}

export function scriptedEcs(options: ScriptedEcsOptions) {
  const mock = mockClient(ECSClient)
  const definitions = new Map(
    options.definitions.map((definition) => [definition.taskDefinitionArn!, definition]),
  )
  const registered: TaskDefinition[] = []
  const updates: { service: string; taskDefinition: string }[] = []
  let deploymentCounter = 0
  let clock = Date.parse('2026-11-25T01:00:00Z')
  const services: Record<string, ServiceState> = {}
  for (const [name, taskDefinition] of Object.entries(options.services)) {
    services[name] = {
      taskDefinition,
      deployments: [
        {
          id: `ecs-svc/initial-${name}`,
          status: 'PRIMARY',
          taskDefinition,
          rolloutState: 'COMPLETED',
          polls: 0,
        },
      ],
      events: [],
    }
  }
  const fate = options.fate ?? (() => 'complete')
  const settle = options.pollsToSettle ?? 2

  const event = (state: ServiceState, message: string) => {
    clock += 1000
    state.events.unshift({ id: String(state.events.length), createdAt: new Date(clock), message })
  }

  const advance = (name: string, state: ServiceState) => {
    for (const deployment of state.deployments) {
      if (deployment.rolloutState !== 'IN_PROGRESS') continue
      deployment.polls++
      if (deployment.polls < settle) continue
      const outcome = fate(name, deployment.taskDefinition!)
      if (outcome === 'complete') {
        deployment.rolloutState = 'COMPLETED'
        deployment.runningCount = 2
        state.deployments = [deployment]
        state.taskDefinition = deployment.taskDefinition!
        event(state, `(service ${name}) has reached a steady state.`)
      } else if (outcome === 'circuit-breaker') {
        const previous = state.deployments.find((candidate) => candidate !== deployment)!
        deployment.rolloutState = 'FAILED'
        deployment.rolloutStateReason = 'ECS deployment circuit breaker: tasks failed to start.'
        deployment.status = 'ACTIVE'
        const rollback = {
          id: `ecs-svc/${++deploymentCounter}`,
          status: 'PRIMARY',
          taskDefinition: previous.taskDefinition,
          rolloutState: 'COMPLETED' as const,
          polls: 0,
        }
        state.deployments = [rollback, deployment]
        state.taskDefinition = previous.taskDefinition!
        event(
          state,
          `(service ${name}) deployment ${deployment.id} deployment failed: tasks failed to start.`,
        )
        event(state, `(service ${name}) rolling back to deployment ${rollback.id}.`)
      }
    }
  }

  mock.on(DescribeServicesCommand).callsFake((input) => ({
    services: (input.services ?? []).map((name: string) => {
      const state = services[name]!
      advance(name, state)
      return {
        serviceName: name,
        status: 'ACTIVE',
        taskDefinition: state.taskDefinition,
        desiredCount: 2,
        runningCount: 2,
        deployments: state.deployments.map(({ polls: _polls, ...deployment }) => ({ ...deployment })),
        events: [...state.events],
      }
    }),
  }))
  mock.on(DescribeTaskDefinitionCommand).callsFake((input) => {
    const requested: string = input.taskDefinition
    const definition =
      definitions.get(requested) ??
      [...definitions.values()]
        .filter(
          (candidate) =>
            candidate.family === requested || `${candidate.family}:${candidate.revision}` === requested,
        )
        .sort((a, b) => b.revision! - a.revision!)[0]
    if (!definition) throw Object.assign(new Error(`unknown ${requested}`), { name: 'ClientException' })
    return { taskDefinition: structuredClone(definition), tags: [{ key: 'project', value: 'whatsapp-saas' }] }
  })
  mock.on(RegisterTaskDefinitionCommand).callsFake((input) => {
    const family: string = input.family
    const revision =
      Math.max(0, ...[...definitions.values()].filter((d) => d.family === family).map((d) => d.revision!)) + 1
    const definition: TaskDefinition = {
      ...structuredClone(input),
      taskDefinitionArn: arnOf(family, revision),
      revision,
      status: 'ACTIVE',
    }
    definitions.set(definition.taskDefinitionArn!, definition)
    registered.push(input)
    return { taskDefinition: definition }
  })
  mock.on(ListTaskDefinitionsCommand).callsFake((input) => ({
    taskDefinitionArns: [...definitions.values()]
      .filter((definition) => definition.family === input.familyPrefix && definition.status === 'ACTIVE')
      .sort((a, b) => b.revision! - a.revision!)
      .map((definition) => definition.taskDefinitionArn!),
  }))
  mock.on(UpdateServiceCommand).callsFake((input) => {
    const state = services[input.service]!
    updates.push({ service: input.service, taskDefinition: input.taskDefinition })
    for (const deployment of state.deployments) deployment.status = 'ACTIVE'
    const deployment = {
      id: `ecs-svc/${++deploymentCounter}`,
      status: 'PRIMARY',
      taskDefinition: input.taskDefinition,
      rolloutState: 'IN_PROGRESS' as const,
      polls: 0,
    }
    state.deployments.unshift(deployment)
    return {
      service: { serviceName: input.service, deployments: state.deployments.map(({ polls: _p, ...d }) => d) },
    }
  })
  mock.on(ListTasksCommand).callsFake((input) => ({
    taskArns:
      input.desiredStatus === 'STOPPED'
        ? [`arn:aws:ecs:us-east-1:1:task/c/${input.serviceName}-stopped`]
        : [],
  }))
  mock.on(DescribeTasksCommand).callsFake((input) => ({
    tasks: (input.tasks ?? []).map((arn: string) => {
      const name = arn.slice(arn.lastIndexOf('/') + 1).replace('-stopped', '')
      const failing = services[name]?.deployments.find((d) => d.rolloutState !== 'COMPLETED')
      return {
        taskArn: arn,
        taskDefinitionArn: failing?.taskDefinition ?? 'none',
        lastStatus: 'STOPPED',
        stoppedReason: 'Essential container in task exited',
        stoppedAt: new Date(clock),
        containers: [{ name: 'api', exitCode: 1, reason: undefined }],
      }
    }),
  }))
  return { mock, services, registered, updates, definitions }
}
