// The inventory command as operators and the pipeline run it (a separate process, JSON on stdout).
// Both stacks' inventories also go through the policy pack in staging.test.ts / production.test.ts.
import { beforeAll, describe, expect, it } from 'vitest'
import { type InventoryItem, REDACTED } from '../src/mock-runtime.js'
import { runInventory, runInventoryFailure } from './support/run-inventory.js'

let items: InventoryItem[]
beforeAll(async () => {
  items = await runInventory('production')
})

describe('npm run inventory -- --stack production', () => {
  it('lists every resource as { type, name, inputs } with Pulumi type tokens', () => {
    expect(items.length).toBeGreaterThan(90)
    for (const item of items) {
      expect(Object.keys(item).sort()).toEqual(['inputs', 'name', 'type'])
      expect(item.type).toMatch(/^[a-z0-9-]+:[A-Za-z0-9/]+:[A-Za-z0-9]+$/)
      expect(typeof item.inputs).toBe('object')
    }
    const keys = items.map((i) => `${i.type}::${i.name}`)
    expect(new Set(keys).size).toBe(keys.length)
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
    expect(items.filter((i) => i.type === 'aws:ec2/natGateway:NatGateway')).toHaveLength(2)
  })

  it('prints no secret value, only a placeholder', () => {
    const text = JSON.stringify(items)
    expect(text).not.toContain('mock-whatsapp-saas') // the mocked random passwords
    const rds = items.find((i) => i.type === 'aws:rds/instance:Instance')!
    expect(rds.inputs.password).toBe(REDACTED)
    const cache = items.find((i) => i.type === 'aws:elasticache/replicationGroup:ReplicationGroup')!
    expect(cache.inputs.authToken).toBe(REDACTED)
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
