import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { logSize, logTail, spawnDetached, waitUntilHealthy } from '../../src/local/process-control.js'

const dir = mkdtempSync(join(tmpdir(), 'ci-process-control-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('the reason of a process that failed', () => {
  it('keeps the first error line of a crash, not only the stack trace after it', async () => {
    // A service that logs a little, then dies on a startup error: Node prints the error, then its stack.
    const script = join(dir, 'crash.mjs')
    writeFileSync(
      script,
      [
        "console.log(JSON.stringify({ level: 30, msg: 'starting' }))",
        'function connect() { throw new Error("relation \\"Organization\\" does not exist") }',
        'function boot() { connect() }',
        'boot()',
      ].join('\n'),
    )
    const logFile = join(dir, 'crash.log')
    // An earlier run's error in the same appended log must not be taken for this one's.
    writeFileSync(logFile, 'Error: an older run failed differently\n')
    const logFrom = logSize(logFile)
    const pid = spawnDetached({ command: process.execPath, args: [script], env: {}, cwd: dir, logFile })
    const failure = await waitUntilHealthy({
      url: 'http://127.0.0.1:9/health',
      pid,
      logFile,
      logFrom,
      timeoutMs: 30_000,
    }).catch((error: Error) => error.message)
    expect(failure).toContain('exited before it was ready')
    expect(failure).toContain('Error: relation "Organization" does not exist')
    expect(failure).not.toContain('an older run')
    expect(failure).toMatch(/Node\.js v\d+/)
  })

  it('reads pino error lines as message and error, and keeps the tail after them', () => {
    const logFile = join(dir, 'pino.log')
    writeFileSync(
      logFile,
      `${JSON.stringify({ level: 60, msg: 'config invalid', err: { type: 'ConfigError', message: 'ENCRYPTION_KEY must be 32 bytes' } })}\n`,
    )
    for (let i = 0; i < 8; i++)
      appendFileSync(logFile, `${JSON.stringify({ level: 30, msg: `closing ${i}` })}\n`)
    const excerpt = logTail(logFile)
    expect(excerpt.startsWith('config invalid — ConfigError: ENCRYPTION_KEY must be 32 bytes | … |')).toBe(
      true,
    )
    expect(excerpt.endsWith('closing 7')).toBe(true)
    expect(excerpt.split(' | ')).toHaveLength(7)
  })
})
