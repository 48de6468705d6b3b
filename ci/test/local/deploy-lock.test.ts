import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { acquireFileLock, LockHeldError } from '../../src/local/deploy-lock.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ci-lock-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe('deploy lock file', () => {
  it('is exclusive and names its holder', async () => {
    const path = join(dir, 'deploy.lock')
    const lock = acquireFileLock(path, 'run-1')
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({
      pid: process.pid,
      host: hostname(),
      runId: 'run-1',
    })
    expect(() => acquireFileLock(path, 'run-2')).toThrow(LockHeldError)
    expect(() => acquireFileLock(path, 'run-2')).toThrow(
      `pid ${process.pid} on ${hostname()}, run run-1, since`,
    )
    await lock.release()
    expect(existsSync(path)).toBe(false)
    await acquireFileLock(path, 'run-2').release()
  })

  it('takes over a lock whose process is dead', async () => {
    const path = join(dir, 'deploy.lock')
    // A pid that surely no longer runs: a child that already exited.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid
    writeFileSync(
      path,
      JSON.stringify({ pid: dead, host: hostname(), runId: 'crashed', since: '2026-01-01T00:00:00Z' }),
    )
    const lock = acquireFileLock(path, 'run-3')
    expect(JSON.parse(readFileSync(path, 'utf8')).runId).toBe('run-3')
    await lock.release()
  })

  it('does not remove a lock that another run took over', async () => {
    const path = join(dir, 'deploy.lock')
    const lock = acquireFileLock(path, 'run-4')
    writeFileSync(path, JSON.stringify({ pid: process.pid, host: hostname(), runId: 'run-5', since: 'now' }))
    await lock.release()
    expect(JSON.parse(readFileSync(path, 'utf8')).runId).toBe('run-5')
  })
})
