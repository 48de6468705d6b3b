import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { checkProductionGate, fixCommand, summaryMarkdown } from '../../src/github/production-gate.js'

const REPO = resolve(import.meta.dirname, '../../..')

/** A scripted GitHub API: answers the environment request with the given status and body, records it. */
function scriptedFetch(status: number, body: unknown = {}) {
  const requests: { url: string; headers: Record<string, string> }[] = []
  const fetch = (async (url: string, init?: { headers?: Record<string, string> }) => {
    requests.push({ url, headers: init?.headers ?? {} })
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
  }) as unknown as typeof globalThis.fetch
  return { fetch, requests }
}

const reviewersRule = (reviewers: unknown[]) => ({
  protection_rules: [
    { id: 1, type: 'wait_timer', wait_timer: 5 },
    { id: 2, type: 'required_reviewers', prevent_self_review: false, reviewers },
  ],
})
const gate = (fetch: typeof globalThis.fetch) =>
  checkProductionGate({ repository: 'acme/whatsapp-saas', token: 'ghs_token', fetch })

describe('production gate', () => {
  it('passes when production requires at least one reviewer, asking with the workflow token', async () => {
    const api = scriptedFetch(200, reviewersRule([{ type: 'User', reviewer: { login: 'lead', id: 7 } }]))
    await expect(gate(api.fetch)).resolves.toMatchObject({ ok: true })
    expect(api.requests).toHaveLength(1)
    expect(api.requests[0]!.url).toBe(
      'https://api.github.com/repos/acme/whatsapp-saas/environments/production',
    )
    expect(api.requests[0]!.headers.authorization).toBe('Bearer ghs_token')
  })

  it('refuses when the environment does not exist yet, with the one-line fix', async () => {
    const verdict = await gate(scriptedFetch(404, { message: 'Not Found' }).fetch)
    expect(verdict).toEqual({
      ok: false,
      reason: 'the `production` environment does not exist',
      fix: fixCommand('acme/whatsapp-saas'),
    })
  })

  it('refuses an environment without protection rules or with an empty reviewer list', async () => {
    for (const body of [{ protection_rules: [] }, {}, reviewersRule([])]) {
      const verdict = await gate(scriptedFetch(200, body).fetch)
      expect(verdict.ok).toBe(false)
      expect(verdict.reason).toBe('the `production` environment has no required reviewer')
      expect(verdict.fix).toContain('repos/acme/whatsapp-saas/environments/production')
    }
  })

  it('refuses when it cannot read the environment (the token lacks actions: read)', async () => {
    const verdict = await gate(
      scriptedFetch(403, { message: 'Resource not accessible by integration' }).fetch,
    )
    expect(verdict.ok).toBe(false)
    expect(verdict.reason).toMatch(/HTTP 403.*actions: read/)
  })

  it('writes the refusal and the fix to the job summary', () => {
    const markdown = summaryMarkdown({
      ok: false,
      reason: 'the `production` environment has no required reviewer',
      fix: 'gh api …',
    })
    expect(markdown).toContain('refused to promote')
    expect(markdown).toContain(
      'The `production` environment has no required reviewer, so production would deploy without approval.',
    )
    expect(markdown).toContain('```sh\ngh api …\n```')
  })
})

describe('the gate as the workflow runs it', () => {
  let server: Server | undefined
  let dir: string | undefined
  afterEach(() => {
    server?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
    server = dir = undefined
  })

  async function apiAnswering(status: number, body: unknown): Promise<string> {
    server = createServer((_request, response) => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    })
    await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done))
    return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`
  }

  /** The script in a child process (asynchronously: the scripted API answers from this one). */
  async function run(apiUrl: string) {
    dir = mkdtempSync(join(tmpdir(), 'gate-'))
    const summary = join(dir, 'summary.md')
    const env = {
      ...process.env,
      GITHUB_REPOSITORY: 'acme/whatsapp-saas',
      GITHUB_TOKEN: 'ghs_token',
      GITHUB_API_URL: apiUrl,
      GITHUB_STEP_SUMMARY: summary,
    }
    const { status, stdout } = await new Promise<{ status: number; stdout: string }>((done) => {
      execFile('npx', ['tsx', 'ci/src/github/production-gate.ts'], { cwd: REPO, env }, (error, out) =>
        done({ status: error ? Number(error.code) : 0, stdout: out }),
      )
    })
    return { status, stdout, summary: readFileSync(summary, 'utf8') }
  }

  it('exits 1 with the fix in the job summary when production has no reviewer', async () => {
    const { status, stdout, summary } = await run(await apiAnswering(200, { protection_rules: [] }))
    expect(status).toBe(1)
    expect(stdout).toContain('production gate: refused')
    expect(summary).toContain(fixCommand('acme/whatsapp-saas'))
  })

  it('exits 0 when a reviewer is required', async () => {
    const { status } = await run(
      await apiAnswering(200, reviewersRule([{ type: 'Team', reviewer: { id: 3 } }])),
    )
    expect(status).toBe(0)
  })
})
