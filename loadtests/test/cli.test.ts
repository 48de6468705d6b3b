import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'load-cli-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

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

describe('load CLI', () => {
  it('reads the env file and exits 1 as JSON when no scenario has its inputs', async () => {
    const envFile = join(dir, 'env.json')
    await writeFile(envFile, JSON.stringify({ baseUrl: 'http://127.0.0.1:9' }))
    const result = await cli(['--env-file', envFile, '--runner', 'autocannon', '--json'])
    expect(result.code).toBe(1)
    expect(JSON.parse(result.stdout)).toMatchObject({
      runner: 'autocannon',
      passed: false,
      exitCode: 1,
      notes: ['no scenario could run: give the inputs the scenarios need'],
    })
  })

  it('exits 2 refusing a remote URL without --allow-remote', async () => {
    const result = await cli(['--base-url', 'https://staging.example.com'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(
      'load: refusing to load https://staging.example.com: not a loopback address',
    )
  })

  it('exits 2 on an unknown scenario', async () => {
    const result = await cli(['--base-url', 'http://127.0.0.1:9', '--scenario', 'nope'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(
      'load: unknown scenario nope (known: message-send, read-api, webhook-ingest)',
    )
  })
})
