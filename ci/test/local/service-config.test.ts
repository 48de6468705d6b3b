// The demo seed's API key is read from the `seed` command's final line by the core's one strict parser.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { OpsOutputError } from '../../src/core/ops-output.js'
import type { Artifact, OpsResult, RunContext } from '../../src/core/types.js'
import { localContext } from '../../src/local/context.js'
import { serviceConfig } from '../../src/local/service-config.js'

const artifact: Artifact = {
  ref: 'local/whatsapp-saas-api',
  digest: `sha256:${'a'.repeat(64)}`,
  version: 'v1',
}
const warnings: string[] = []
const ctx: RunContext = {
  runId: 'run-1',
  target: 'local',
  stack: 'local',
  dryRun: false,
  log: { info: () => undefined, warn: (message: string) => void warnings.push(message) },
  signal: new AbortController().signal,
}

// Exactly what `seed` prints (api/src/ops/reports.ts, SeedReport).
const SEED_LINE = {
  command: 'seed',
  ok: true,
  organizationId: 'org-1',
  apiKey: 'wa_live_demo_key',
  apiKeyId: 'key-1',
  phoneNumberId: 'pn-1',
  graphPhoneNumberId: '100000000000001',
}

describe('local demo seed', () => {
  let stateDir: string
  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'wa-seed-'))
    warnings.length = 0
  })
  afterEach(() => rmSync(stateDir, { recursive: true, force: true }))

  const seedWith = (result: Record<string, unknown>, exitCode = 0) => {
    const local = localContext({ repoRoot: stateDir, stateDir })
    const config = serviceConfig(local)
    const run: OpsResult = { exitCode, output: [JSON.stringify(result)], result }
    return { local, config, seeded: config.ensureSeeded(artifact, ctx, async () => run) }
  }

  it('records the API key of the line seed prints', async () => {
    const { local, config, seeded } = seedWith(SEED_LINE)
    await seeded
    expect(config.secrets().apiKey).toBe('wa_live_demo_key')
    expect(JSON.parse(readFileSync(local.layout.envFile, 'utf8')).apiKey).toBe('wa_live_demo_key')
  })

  it('refuses a line seed never prints (an unknown key), and records no key', async () => {
    const { config, seeded } = seedWith({ ...SEED_LINE, token: 'wa_live_other' })
    await expect(seeded).rejects.toThrow(OpsOutputError)
    await expect(seedWith({ ...SEED_LINE, apiKey: 42 }).seeded).rejects.toThrow(/apiKey/)
    expect(config.secrets().apiKey).toBeUndefined()
  })

  it('warns and records no key when seed failed', async () => {
    const { config, seeded } = seedWith({ command: 'seed', ok: false, error: 'database unreachable' }, 1)
    await seeded
    expect(warnings).toEqual(['seed did not run (seed failed: database unreachable): env.json has no apiKey'])
    expect(config.secrets().apiKey).toBeUndefined()
  })
})
