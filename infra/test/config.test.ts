import { describe, expect, it } from 'vitest'
import { parseStackConfig, StackConfigError } from '../src/config.js'
import { readStackFile } from '../src/stack-file.js'

const staging = () => readStackFile('staging')
const problemsOf = (raw: Record<string, string | undefined>, stack = 'staging'): string[] => {
  try {
    parseStackConfig(stack, raw)
  } catch (error) {
    if (error instanceof StackConfigError) return error.problems
    throw error
  }
  return []
}
const withJson = (key: string, change: (value: Record<string, unknown>) => void) => {
  const raw = staging()
  const value = JSON.parse(raw[key]!) as Record<string, unknown>
  change(value)
  raw[key] = JSON.stringify(value)
  return raw
}

describe('stack configuration', () => {
  it('reads both stack files', () => {
    const s = parseStackConfig('staging', staging())
    const p = parseStackConfig('production', readStackFile('production'))
    expect(s.isProduction).toBe(false)
    expect(p.isProduction).toBe(true)
    expect(p.database.multiAz).toBe(true)
    expect(s.database.multiAz).toBe(false)
    expect(s.tags.Environment).toBe('staging')
    expect(p.namePrefix).toBe('whatsapp-saas-production')
  })

  it('refuses the synthetic Graph API in production and defaults the repository owner to the stack', () => {
    const raw = readStackFile('production')
    expect(parseStackConfig('production', raw).imageRepository).toEqual({ owner: 'staging' })
    raw['whatsapp-saas:syntheticGraph'] = 'true'
    expect(problemsOf(raw, 'production')).toEqual([
      'whatsapp-saas:syntheticGraph: never in production (it routes a phone number to a fake Graph API)',
    ])
    const own = staging()
    delete own['whatsapp-saas:imageRepository']
    delete own['whatsapp-saas:syntheticGraph']
    expect(parseStackConfig('staging', own)).toMatchObject({
      imageRepository: { owner: 'staging' },
      syntheticGraph: false,
    })
  })

  it('names a missing top-level key', () => {
    const raw = staging()
    delete raw['whatsapp-saas:alertEmail']
    delete raw['aws:region']
    expect(problemsOf(raw)).toEqual(['aws:region: missing', 'whatsapp-saas:alertEmail: missing'])
  })

  it('names a missing nested key', () => {
    const raw = withJson('whatsapp-saas:database', (db) => {
      delete db.instanceClass
    })
    expect(problemsOf(raw).join('\n')).toContain('whatsapp-saas:database.instanceClass')
  })

  it('names a malformed value', () => {
    const raw = withJson('whatsapp-saas:network', (n) => {
      n.egressMode = 'nat-everywhere'
    })
    expect(problemsOf(raw).join('\n')).toContain('whatsapp-saas:network.egressMode')
    const badJson = { ...staging(), 'whatsapp-saas:cache': '{not json' }
    expect(problemsOf(badJson)).toEqual([
      expect.stringContaining('whatsapp-saas:cache: not valid structured config'),
    ])
    expect(problemsOf({ ...staging(), 'whatsapp-saas:certificateArn': 'arn:aws:iam::1:role/x' })).toEqual([
      expect.stringContaining('whatsapp-saas:certificateArn'),
    ])
  })

  it('checks relations between keys', () => {
    const counts = withJson('whatsapp-saas:service', (s) => {
      s.minCount = 3
      s.desiredCount = 2
    })
    expect(problemsOf(counts)).toEqual([expect.stringContaining('minCount <= desiredCount <= maxCount')])
    const memory = withJson('whatsapp-saas:worker', (w) => {
      w.memoryMiB = 4096
    })
    expect(problemsOf(memory)).toEqual([expect.stringContaining('whatsapp-saas:worker.memoryMiB')])
    const zone = withJson('whatsapp-saas:network', (n) => {
      n.availabilityZones = ['eu-west-1a', 'us-east-1b']
    })
    expect(problemsOf(zone)).toEqual([expect.stringContaining('eu-west-1a is not in region us-east-1')])
    const valkey = withJson('whatsapp-saas:cache', (c) => {
      c.engine = 'valkey'
      c.engineVersion = '6.2'
    })
    expect(problemsOf(valkey)).toEqual([expect.stringContaining('valkey starts at 7.2')])
  })

  it('accepts Graviton classes, ARM64 and Valkey', () => {
    let raw = withJson('whatsapp-saas:database', (db) => {
      db.instanceClass = 'db.t4g.small'
    })
    raw = {
      ...raw,
      'whatsapp-saas:cache': JSON.stringify({
        ...JSON.parse(raw['whatsapp-saas:cache']!),
        engine: 'valkey',
        engineVersion: '8.0',
        nodeType: 'cache.t4g.micro',
      }),
    }
    raw = {
      ...raw,
      'whatsapp-saas:service': JSON.stringify({
        ...JSON.parse(raw['whatsapp-saas:service']!),
        architecture: 'ARM64',
      }),
    }
    const config = parseStackConfig('staging', raw)
    expect(config.cache.engine).toBe('valkey')
    expect(config.service.architecture).toBe('ARM64')
  })
})
