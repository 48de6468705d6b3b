import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decryptSecret } from '../../src/crypto/secret-box.js'
import { applyMigrations } from '../harness/migrations.js'
import { type OpsTestDatabase, runCli, startOpsTestDatabase } from './ops-harness.js'

const ACCESS_TOKEN = 'EAAG-fake-graph-token-0123456789'
const ENCRYPTION_KEY = randomBytes(32)
const FLAGS = ['--phone-number-id', '100000000000001', '--waba-id', '200000000000001']

describe('seed', () => {
  let db: OpsTestDatabase
  let url: string
  let env: Record<string, string>

  beforeAll(async () => {
    db = await startOpsTestDatabase()
    url = await db.createDatabase()
    await applyMigrations(url)
    env = {
      DATABASE_URL: url,
      ENCRYPTION_KEY: ENCRYPTION_KEY.toString('base64'),
      FAKE_GRAPH_ACCESS_TOKEN: ACCESS_TOKEN,
    }
  })
  afterAll(async () => {
    await db?.stop()
  })

  it('creates the demo tenant wired to the given number; the API key appears only in the JSON line', async () => {
    const run = await runCli(['seed', ...FLAGS], env)
    expect(run.result.error ?? null).toBeNull()
    expect(run.exitCode).toBe(0)
    const apiKey = run.result.apiKey as string
    expect(apiKey.length).toBeGreaterThan(20)
    expect(run.stderr.join('\n')).not.toContain(apiKey)
    expect([...run.stderr, ...run.stdout].join('\n')).not.toContain(ACCESS_TOKEN)

    const [phone] = await db.query<{
      phoneNumberId: string
      wabaId: string
      accessTokenEnc: string
      slug: string
    }>(
      url,
      `SELECT p."phoneNumberId", p."wabaId", p."accessTokenEnc", o.slug
       FROM "PhoneNumber" p JOIN "Organization" o ON o.id = p."organizationId"`,
    )
    expect(phone).toMatchObject({ phoneNumberId: '100000000000001', wabaId: '200000000000001', slug: 'demo' })
    expect(decryptSecret(phone!.accessTokenEnc, ENCRYPTION_KEY)).toBe(ACCESS_TOKEN)
    expect(run.result.organizationId).toBeTypeOf('string')

    // Running it again keeps the organization and issues another key.
    const again = await runCli(['seed', ...FLAGS], env)
    expect(again.result.organizationId).toBe(run.result.organizationId)
    expect(again.result.apiKey).not.toBe(apiKey)
  })

  it('reads the token from the variable --access-token-env names and fails clearly without it', async () => {
    const missing = await runCli(['seed', ...FLAGS, '--access-token-env', 'OTHER_TOKEN'], env)
    expect(missing.exitCode).toBe(1)
    expect(missing.result.error).toBe('OTHER_TOKEN is not set (the Graph access token of the number)')

    const badKey = await runCli(['seed', ...FLAGS], { ...env, ENCRYPTION_KEY: 'c2hvcnQ=' })
    expect(badKey.exitCode).toBe(1)
    expect(badKey.result.error).toMatch(/^ENCRYPTION_KEY must be set/)

    const noNumber = await runCli(['seed', '--waba-id', '1'], env)
    expect(noNumber.result.error).toBe('missing --phone-number-id <Meta phone_number_id>')
  })
})
