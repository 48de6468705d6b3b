// The database connection budget, checked at preview twice: by the config validation (from the stack
// settings, before any resource is planned) and by the policy pack (from the resources themselves).
import { describe, expect, it } from 'vitest'
import { databaseConnectionBudget, TYPES } from '../policy/policies.js'
import { parseStackConfig, StackConfigError, stackConnectionBudget } from '../src/config.js'
import { defaultMaxConnections } from '../src/connection-budget.js'
import { readStackFile } from '../src/stack-file.js'
import { type FakeResource, stackViolations } from './support/policy-harness.js'

const problemsOf = (raw: Record<string, string>, stack: string): string[] => {
  try {
    parseStackConfig(stack, raw)
  } catch (error) {
    if (error instanceof StackConfigError) return error.problems
    throw error
  }
  return []
}
const change = (stack: string, key: string, fields: Record<string, unknown>) => {
  const raw = readStackFile(stack)
  raw[key] = JSON.stringify({ ...JSON.parse(raw[key]!), ...fields })
  return raw
}

describe('connection budget of the stack settings', () => {
  it.each([
    ['staging', 'API 8 tasks (service.maxCount 4 × rollout surge) × pool 4 = 32', 60],
    ['production', 'API 20 tasks (service.maxCount 10 × rollout surge) × pool 4 = 80', 124],
  ])('%s fits in 90 %% of max_connections', (stack, apiTerm, used) => {
    const budget = stackConnectionBudget(parseStackConfig(stack, readStackFile(stack)))!
    expect(budget.ok).toBe(true)
    expect(budget.used).toBe(used)
    expect(budget.limit).toBe(135)
    expect(budget.arithmetic).toContain(apiTerm)
  })

  it('fails the preview with the arithmetic when the pools outgrow max_connections', () => {
    // Yesterday's fixed pools (20 per API process, 16 per worker) with 10 API tasks and max_connections 100.
    let raw = change('production', 'whatsapp-saas:service', { databasePoolMax: 20 })
    raw = {
      ...raw,
      ...{
        'whatsapp-saas:worker': change('production', 'whatsapp-saas:worker', { databasePoolMax: 16 })[
          'whatsapp-saas:worker'
        ]!,
      },
    }
    raw['whatsapp-saas:database'] = JSON.stringify({
      ...JSON.parse(raw['whatsapp-saas:database']!),
      maxConnections: 100,
    })
    expect(problemsOf(raw, 'production')).toEqual([
      'whatsapp-saas:database connection budget exceeded: ' +
        'API 20 tasks (service.maxCount 10 × rollout surge) × pool 20 = 400 + ' +
        'worker 4 tasks (worker.desiredCount 2 × rollout surge) × pool 16 = 64 + ops reserve 12 = 476 > ' +
        '90 % of max_connections 100 (database.maxConnections, parameter group) = 90; ' +
        'lower service.databasePoolMax, worker.databasePoolMax or the task counts, or raise database.maxConnections',
    ])
  })

  it("falls back to the class's default formula when max_connections is not set", () => {
    const raw = readStackFile('staging')
    const { maxConnections: _, ...database } = JSON.parse(raw['whatsapp-saas:database']!)
    raw['whatsapp-saas:database'] = JSON.stringify(database)
    const budget = stackConnectionBudget(parseStackConfig('staging', raw))!
    // LEAST(DBInstanceClassMemory / 9531392, 5000) with 75 % of a db.t3.small's 2 GiB.
    expect(budget.maxConnections).toBe(168)
    expect(budget.arithmetic).toContain('(RDS default for db.t3.small)')
    expect(defaultMaxConnections('db.r6g.large')).toBe(Math.floor((16 * 1024 ** 3 * 0.75) / 9_531_392))
    raw['whatsapp-saas:database'] = JSON.stringify({ ...database, instanceClass: 'db.x2g.large' })
    expect(problemsOf(raw, 'staging')).toEqual([
      'whatsapp-saas:database.maxConnections: required for db.x2g.large (its default max_connections is not in the table)',
    ])
  })
})

describe('database-connection-budget policy', () => {
  const taskDefinition = (family: string, pool?: number, secret = 'DATABASE_URL'): FakeResource => ({
    type: TYPES.taskDefinition,
    name: `${family}-taskdef`,
    inputs: {
      family,
      containerDefinitions: JSON.stringify([
        {
          name: family,
          environment: pool === undefined ? [] : [{ name: 'DATABASE_POOL_MAX', value: String(pool) }],
          secrets: [{ name: secret, valueFrom: 'arn:aws:secretsmanager:x' }],
        },
      ]),
    },
  })
  const service = (name: string, desiredCount: number): FakeResource => ({
    type: TYPES.service,
    name: `${name}-service`,
    inputs: {
      name,
      desiredCount,
      deploymentMaximumPercent: 200,
      taskDefinition: `arn:aws:ecs:us-east-1:1:task-definition/${name}:3`,
    },
  })
  const stack = (
    apiPool: number,
    maxConnections: string | undefined,
    workerPool?: number,
  ): FakeResource[] => [
    {
      type: TYPES.rdsInstance,
      name: 'db',
      inputs: { instanceClass: 'db.t3.small', parameterGroupName: 'params' },
    },
    {
      type: TYPES.rdsParameterGroup,
      name: 'params',
      inputs: {
        name: 'params',
        parameters: maxConnections ? [{ name: 'max_connections', value: maxConnections }] : [],
        tags: { OpsReserveConnections: '10' },
      },
    },
    service('api', 2),
    service('worker', 1),
    service('fake-graph', 1),
    taskDefinition('api', apiPool),
    taskDefinition('worker', workerPool),
    taskDefinition('fake-graph', undefined, 'FAKE_GRAPH_TOKEN'),
    {
      type: TYPES.scalingTarget,
      name: 'api-scaling',
      inputs: { resourceId: 'service/cluster/api', maxCapacity: 10 },
    },
  ]

  it('passes when the peak fits', async () => {
    expect(await stackViolations(databaseConnectionBudget, stack(3, '100', 5))).toEqual([])
  })

  it('fails with the arithmetic when it does not', async () => {
    expect(await stackViolations(databaseConnectionBudget, stack(20, '100', 16))).toEqual([
      'database connection budget exceeded: api 20 tasks (max 10 × 200 %) × pool 20 = 400 + ' +
        'worker 2 tasks (desired 1 × 200 %) × pool 16 = 32 + ops reserve 10 = 442 > 90 % of max_connections 100 ' +
        '(parameter group) = 90',
    ])
  })

  it("uses the class's default when the parameter group does not set max_connections", async () => {
    // db.t3.small: 168 by the estimate, 151 allowed; 20 × 5 + 2 × 16 + 10 = 142.
    expect(await stackViolations(databaseConnectionBudget, stack(5, undefined, 16))).toEqual([])
  })

  it('refuses a service that connects without a pool size', async () => {
    expect(await stackViolations(databaseConnectionBudget, stack(3, '100'))).toEqual([
      'worker-service: container worker connects to the database without DATABASE_POOL_MAX',
    ])
  })
})
