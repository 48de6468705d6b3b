import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { type StandIn, startStandIn } from './stand-in-service.js'

const run = promisify(execFile)
const secrets = {
  apiKey: 'wsk_cli_secret',
  appSecret: 'cli-app-secret',
  verifyToken: 'cli-verify',
  phoneNumberId: '99',
}

let standIn: StandIn | undefined
let dir: string | undefined
afterEach(async () => {
  await standIn?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
  standIn = undefined
  dir = undefined
})

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', ['--import', 'tsx', 'src/main.ts', '--', ...args], {
      cwd: join(import.meta.dirname, '..'),
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string }
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr }
  }
}

describe('smoke CLI', () => {
  it('exits 0 with an env file, and 1 with a line per check when the version differs', async () => {
    standIn = await startStandIn(secrets)
    dir = await mkdtemp(join(tmpdir(), 'smoke-cli-'))
    const envFile = join(dir, 'env.json')
    await writeFile(
      envFile,
      JSON.stringify({ baseUrl: standIn.baseUrl, fakeGraphUrl: standIn.baseUrl, ...secrets }),
    )

    const ok = await cli(['--env-file', envFile, '--expect-version', '1.0.0', '--json'])
    expect(ok.code).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({ passed: true, summary: '7 passed, 0 failed, 0 skipped' })

    const mismatch = await cli(['--env-file', envFile, '--expect-version', '2.0.0'])
    expect(mismatch.code).toBe(1)
    expect(mismatch.stdout).toMatch(/^FAIL version +\d+ ms {2}version 1\.0\.0 is serving, expected 2\.0\.0$/m)
    expect(mismatch.stdout).toMatch(/^PASS health /m)
    expect(mismatch.stdout).toContain('smoke FAILED against')
    for (const secret of [secrets.apiKey, secrets.appSecret, secrets.verifyToken]) {
      expect(ok.stdout + mismatch.stdout + mismatch.stderr).not.toContain(secret)
    }
  })

  it('exits 2 naming the missing base URL', async () => {
    const result = await cli([])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('smoke: no base URL: pass --base-url, set SMOKE_BASE_URL')
  })
})
