import { describe, expect, it, vi } from 'vitest'
import { main } from '../../src/cli/main.js'
import { colorsFor, renderSummaryTable } from '../../src/cli/progress.js'
import type { Report } from '../../src/core/report.js'

describe('CLI', () => {
  it('answers usage errors with exit code 2 and one line naming the problem', async () => {
    const errors: string[] = []
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      errors.push(String(chunk))
      return true
    })
    try {
      expect(await main(['deploy', '--target', 'gcp'])).toBe(2)
      expect(errors[0]).toBe('error: --target must be local or aws (got "gcp")\n')
      expect(await main(['deploy', '--image', 'repo/api:latest'])).toBe(2)
      expect(errors.join('')).toContain('immutable digest')
      expect(await main(['deploy', '--no-such-flag'])).toBe(2)
      expect(await main(['launch'])).toBe(2)
    } finally {
      spy.mockRestore()
    }
  })

  it('hands rollback, backup and restore with --target aws to the AWS verbs, flags untouched', async () => {
    const errors: string[] = []
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      errors.push(String(chunk))
      return true
    })
    const saved = { ...process.env }
    // No credentials anywhere: the AWS verb answers with its login hint, proof that it (not the
    // local flag table, which knows no --manual) parsed the command.
    for (const name of ['AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'])
      delete process.env[name]
    process.env.AWS_CONFIG_FILE = '/nonexistent'
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent'
    process.env.AWS_EC2_METADATA_DISABLED = 'true'
    try {
      const code = await main(['backup', '--target', 'aws', '--stack', 'staging', '--manual'])
      expect(code).not.toBe(2)
      expect(errors.join('')).toMatch(/credentials are missing or expired/)
      expect(errors.join('')).not.toContain("Unknown option '--manual'")
    } finally {
      process.env = saved
      spy.mockRestore()
    }
  })

  it('uses colours only on a terminal without NO_COLOR', () => {
    const tty = { isTTY: true } as NodeJS.WriteStream
    expect(colorsFor(tty, {}).red('x')).toContain('\x1b[')
    expect(colorsFor(tty, { NO_COLOR: '1' }).red('x')).toBe('x')
    expect(colorsFor({ isTTY: false } as NodeJS.WriteStream, {}).red('x')).toBe('x')
  })

  it('renders a summary table with the verdict and reason', () => {
    const report: Report = {
      runId: 'r1',
      target: 'local',
      stack: 'local',
      status: 'rolled_back',
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:42.000Z',
      artifact: { ref: 'local/whatsapp-saas-api', digest: `sha256:${'a'.repeat(64)}`, version: 'abc' },
      url: 'http://127.0.0.1:8080',
      reason: 'smoke: health 503; rolled back to old',
      stages: [
        {
          name: 'build',
          status: 'succeeded',
          startedAt: '',
          durationMs: 1200,
          summary: 'built',
          details: {},
        },
        {
          name: 'smoke',
          status: 'failed',
          startedAt: '',
          durationMs: 300,
          summary: 'health 503',
          details: {},
        },
      ],
    }
    const table = renderSummaryTable(report)
    expect(table).toContain('build  succeeded      1.2 s  built')
    expect(table).toContain('ROLLED BACK local/local in 42.0 s')
    expect(table).toContain('reason: smoke: health 503; rolled back to old')
  })
})
