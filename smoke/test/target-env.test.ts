import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  envVarName,
  isLoopbackUrl,
  redactTargetEnv,
  resolveCliPath,
  resolveTargetEnv,
} from '@whatsapp-saas/service-client/target-env'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

let dir: string
let envFile: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'smoke-env-'))
  envFile = join(dir, 'env.json')
  await writeFile(
    envFile,
    JSON.stringify({
      baseUrl: 'http://127.0.0.1:8080/',
      apiKey: 'file-key',
      appSecret: 'file-secret',
      phoneNumberId: 123456789,
      unrelated: 'ignored',
    }),
  )
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('resolveTargetEnv', () => {
  it('reads the env file, then environment variables, then explicit values, each overriding the last', async () => {
    const env = await resolveTargetEnv({
      envFile,
      env: { SMOKE_API_KEY: 'env-key', SMOKE_VERIFY_TOKEN: 'env-verify', LOAD_APP_SECRET: 'other-prefix' },
      envPrefix: 'SMOKE',
      explicit: { verifyToken: 'explicit-verify', adminToken: undefined },
    })
    expect(env).toEqual({
      baseUrl: 'http://127.0.0.1:8080',
      apiKey: 'env-key',
      appSecret: 'file-secret',
      phoneNumberId: '123456789',
      verifyToken: 'explicit-verify',
    })
  })

  it('names every way to give the base URL when none is given', async () => {
    await expect(resolveTargetEnv({ env: {}, envPrefix: 'LOAD' })).rejects.toThrow(
      'no base URL: pass --base-url, set LOAD_BASE_URL, or give --env-file with "baseUrl"',
    )
  })

  it('rejects a base URL that is not http(s)', async () => {
    await expect(resolveTargetEnv({ explicit: { baseUrl: 'ftp://x' }, envPrefix: 'SMOKE' })).rejects.toThrow(
      'baseUrl must be http(s)',
    )
    await expect(resolveTargetEnv({ explicit: { baseUrl: 'nope' }, envPrefix: 'SMOKE' })).rejects.toThrow(
      'baseUrl is not a URL',
    )
  })

  it('names a missing env file', async () => {
    await expect(resolveTargetEnv({ envFile: join(dir, 'absent.json'), envPrefix: 'SMOKE' })).rejects.toThrow(
      /^cannot read env file .*absent\.json/,
    )
  })
})

describe('helpers', () => {
  it('resolves command-line paths from where npm was invoked', () => {
    expect(resolveCliPath('.pipeline/local/env.json', { INIT_CWD: '/repo' })).toBe(
      '/repo/.pipeline/local/env.json',
    )
    expect(resolveCliPath('/abs/env.json', { INIT_CWD: '/repo' })).toBe('/abs/env.json')
    expect(resolveCliPath('env.json', {})).toBe(join(process.cwd(), 'env.json'))
  })

  it('derives environment variable names', () => {
    expect(envVarName('SMOKE', 'phoneNumberId')).toBe('SMOKE_PHONE_NUMBER_ID')
    expect(envVarName('LOAD', 'baseUrl')).toBe('LOAD_BASE_URL')
  })

  it('recognises loopback URLs only', () => {
    expect(isLoopbackUrl('http://127.0.0.1:3000')).toBe(true)
    expect(isLoopbackUrl('http://127.1.2.3')).toBe(true)
    expect(isLoopbackUrl('http://localhost:3000')).toBe(true)
    expect(isLoopbackUrl('http://[::1]:3000')).toBe(true)
    expect(isLoopbackUrl('https://api.example.com')).toBe(false)
    expect(isLoopbackUrl('http://10.0.0.5')).toBe(false)
    expect(isLoopbackUrl('http://127.0.0.1.example.com')).toBe(false)
  })

  it('redacts secrets', () => {
    expect(
      redactTargetEnv({
        baseUrl: 'http://x',
        apiKey: 'k',
        appSecret: 's',
        verifyToken: 'v',
        adminToken: 'a',
        phoneNumberId: '1',
      }),
    ).toEqual({
      baseUrl: 'http://x',
      apiKey: '***',
      appSecret: '***',
      verifyToken: '***',
      adminToken: '***',
      phoneNumberId: '1',
    })
  })
})
