// The inventory command for both stacks, and every policy of the pack over every resource it lists.
import { beforeAll, describe, expect, it } from 'vitest'
import { policies } from '../policy/policies.js'
import { type InventoryItem, REDACTED } from '../src/mock-runtime.js'
import { violations } from './support/policy-harness.js'
import { runInventory, runInventoryFailure } from './support/run-inventory.js'

const STACKS = ['staging', 'production'] as const
const inventories = new Map<string, InventoryItem[]>()

beforeAll(async () => {
  const results = await Promise.all(STACKS.map(runInventory))
  STACKS.forEach((stack, i) => {
    inventories.set(stack, results[i]!)
  })
})

describe.each(STACKS)('inventory of %s', (stack) => {
  it('lists every resource as { type, name, inputs } with Pulumi type tokens', () => {
    const items = inventories.get(stack)!
    expect(items.length).toBeGreaterThan(90)
    for (const item of items) {
      expect(Object.keys(item).sort()).toEqual(['inputs', 'name', 'type'])
      expect(item.type).toMatch(/^[a-z0-9-]+:[A-Za-z0-9/]+:[A-Za-z0-9]+$/)
      expect(typeof item.inputs).toBe('object')
    }
    const names = items.map((i) => `${i.type}::${i.name}`)
    expect(new Set(names).size).toBe(names.length)
    for (const type of [
      'aws:ec2/vpc:Vpc',
      'aws:rds/instance:Instance',
      'aws:elasticache/replicationGroup:ReplicationGroup',
      'aws:ecs/service:Service',
      'aws:lb/loadBalancer:LoadBalancer',
      'aws:scheduler/schedule:Schedule',
      'aws:budgets/budget:Budget',
    ]) {
      expect(items.some((i) => i.type === type)).toBe(true)
    }
  })

  it('prints no secret value, only a placeholder', () => {
    const text = JSON.stringify(inventories.get(stack))
    expect(text).not.toContain('mock-whatsapp-saas') // the mocked random passwords
    expect(text).toContain(REDACTED)
    const rds = inventories.get(stack)!.find((i) => i.type === 'aws:rds/instance:Instance')!
    expect(rds.inputs.password).toBe(REDACTED)
  })

  it('passes every policy of the pack with zero violations', async () => {
    const found: string[] = []
    for (const item of inventories.get(stack)!) {
      for (const policy of policies) {
        for (const message of await violations(policy, item.type, item.inputs, item.name)) {
          found.push(`${policy.name}: ${message}`)
        }
      }
    }
    expect(found).toEqual([])
  })
})

describe('inventory command errors', () => {
  it('fails with a usage line without --stack', async () => {
    const { code, stderr } = await runInventoryFailure([])
    expect(code).toBe(2)
    expect(stderr).toContain('--stack')
  })

  it('names the missing stack file', async () => {
    const { code, stderr } = await runInventoryFailure(['--stack', 'qa'])
    expect(code).toBe(1)
    expect(stderr).toContain('Pulumi.qa.yaml')
  })
})
