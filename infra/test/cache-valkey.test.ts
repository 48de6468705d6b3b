// The lean profile's Valkey cache: a parameter group of the valkey family with noeviction, and the
// replication group on it (the engine's default group would evict BullMQ's keys).
import { beforeAll, describe, expect, it } from 'vitest'
import { cacheNoEviction, TYPES } from '../policy/policies.js'
import { readStackFile } from '../src/stack-file.js'
import { stackViolations } from './support/policy-harness.js'
import { runStackProgram, type StackRun } from './support/stack-program.js'

const valkey = () => {
  const cache = JSON.parse(readStackFile('staging')['whatsapp-saas:cache']!) as Record<string, unknown>
  return {
    'whatsapp-saas:cache': JSON.stringify({
      ...cache,
      engine: 'valkey',
      engineVersion: '8.0',
      nodeType: 'cache.t4g.micro',
    }),
  }
}

let run: StackRun
beforeAll(async () => {
  run = await runStackProgram('staging', valkey())
})

describe('valkey cache (lean profile)', () => {
  it('uses its own valkey8 parameter group with maxmemory-policy noeviction', () => {
    const group = run.one(TYPES.cacheParameterGroup).inputs
    expect(group.family).toBe('valkey8')
    expect(group.parameters).toEqual([{ name: 'maxmemory-policy', value: 'noeviction' }])
    const cache = run.one(TYPES.replicationGroup).inputs
    expect(cache.engine).toBe('valkey')
    expect(cache.parameterGroupName).toBe(group.name)
    expect(String(cache.parameterGroupName)).not.toMatch(/^default\./)
  })

  it('passes the noeviction stack policy', async () => {
    expect(await stackViolations(cacheNoEviction, run.items)).toEqual([])
  })
})

describe('cache-maxmemory-noeviction policy', () => {
  const cache = (parameterGroupName: string) => ({
    type: TYPES.replicationGroup,
    name: 'cache',
    inputs: { parameterGroupName },
  })
  const group = (policy?: string) => ({
    type: TYPES.cacheParameterGroup,
    name: 'params',
    inputs: {
      name: 'app-redis7',
      family: 'redis7',
      parameters: policy ? [{ name: 'maxmemory-policy', value: policy }] : [],
    },
  })

  it('refuses the engine default group', async () => {
    expect(await stackViolations(cacheNoEviction, [cache('default.redis7')])).toEqual([
      'cache: parameterGroupName default.redis7 is not a parameter group of this stack with maxmemory-policy noeviction',
    ])
  })

  it('refuses a group that keeps an evicting policy', async () => {
    expect(await stackViolations(cacheNoEviction, [cache('app-redis7'), group('allkeys-lru')])).toEqual([
      'cache: parameter group params has maxmemory-policy allkeys-lru, needs noeviction',
    ])
    expect(await stackViolations(cacheNoEviction, [cache('app-redis7'), group()])).toEqual([
      'cache: parameter group params has maxmemory-policy (engine default volatile-lru), needs noeviction',
    ])
  })

  it('accepts a noeviction group', async () => {
    expect(await stackViolations(cacheNoEviction, [cache('app-redis7'), group('noeviction')])).toEqual([])
  })
})
