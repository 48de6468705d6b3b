import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Deployment, ProcessRecord } from '../../src/local/environment-state.js'
import { readState, writeState } from '../../src/local/environment-state.js'
import { isAlive } from '../../src/local/pid-probe.js'
import { spawnDetached } from '../../src/local/process-control.js'
import { type LocalLayout, localLayout } from '../../src/local/state-layout.js'
import { type Respawn, readSupervisorFile, superviseOnce } from '../../src/local/supervisor.js'

// The supervisor's decisions against real processes: what died is restarted on its port, with a backoff,
// logged and recorded; nothing is touched while a deploy holds the lock.

let dir: string
let layout: LocalLayout
const pids: number[] = []
const lines: string[] = []

/** A process that lives until killed; `crash` makes one that prints an error and dies at once. */
function start(logFile: string, crash = false): ProcessRecord {
  const script = crash
    ? "console.error('Error: DATABASE_URL points at a database that does not exist'); process.exit(1)"
    : 'setInterval(() => {}, 1000)'
  const pid = spawnDetached({ command: process.execPath, args: ['-e', script], env: {}, cwd: dir, logFile })
  pids.push(pid)
  return { pid, logFile, startedAt: new Date().toISOString() }
}

const respawned: { role: string; port?: number }[] = []
const respawn =
  (crash = false): Respawn =>
  (role, _deployment, port) => {
    respawned.push({ role, ...(port ? { port } : {}) })
    return start(join(layout.logs, `${role}-${port ?? 'w'}.log`), crash)
  }

const waitGone = async (pid: number) => {
  while (isAlive(pid)) await new Promise((r) => setTimeout(r, 20))
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ci-supervisor-'))
  layout = localLayout(dir)
  respawned.length = 0
  lines.length = 0
  const serving: Deployment = {
    artifact: { ref: 'local/whatsapp-saas-api', digest: `sha256:${'a'.repeat(64)}`, version: 'v1' },
    replicas: [4101, 4102].map((port) => ({ ...start(join(dir, `api-${port}.log`)), port })),
    worker: start(join(dir, 'worker.log')),
    since: new Date().toISOString(),
  }
  writeState(layout.processes, { serving })
})

afterEach(async () => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true })
})

describe('local supervisor', () => {
  it('restarts a killed replica on its port and a killed worker, and records restarts and last exit', async () => {
    const before = readState(layout.processes).serving!
    process.kill(before.replicas[1]!.pid, 'SIGKILL')
    process.kill(before.worker!.pid, 'SIGKILL')
    await Promise.all([waitGone(before.replicas[1]!.pid), waitGone(before.worker!.pid)])
    let now = Date.now()
    const options = { layout, respawn: respawn(), log: (l: string) => lines.push(l), now: () => now }
    superviseOnce(options)
    // Within the first backoff: seen and logged, not restarted yet.
    expect(respawned).toEqual([])
    now += 600
    superviseOnce(options)
    expect(respawned).toEqual([{ role: 'api', port: 4102 }, { role: 'worker' }])
    const after = readState(layout.processes).serving!
    expect(after.replicas[0]!.pid).toBe(before.replicas[0]!.pid)
    expect(after.replicas[1]!.port).toBe(4102)
    expect(isAlive(after.replicas[1]!.pid)).toBe(true)
    expect(isAlive(after.worker!.pid)).toBe(true)
    const slots = readSupervisorFile(layout.supervisor).slots
    expect(slots['api:4102']).toMatchObject({ restarts: 1, lastExit: { pid: before.replicas[1]!.pid } })
    expect(slots.worker?.restarts).toBe(1)
    expect(lines.join('\n')).toMatch(/api:4102 \(pid \d+\) exited .* restart in 500 ms/)
    expect(lines.join('\n')).toMatch(/api:4102 restarted as pid \d+ \(restart 1\)/)
  })

  it('backs off a process that keeps dying at start, and keeps its first error line', async () => {
    const serving = readState(layout.processes).serving!
    process.kill(serving.worker!.pid, 'SIGKILL')
    await waitGone(serving.worker!.pid)
    let now = Date.now()
    const options = { layout, respawn: respawn(true), log: (l: string) => lines.push(l), now: () => now }
    const delays: number[] = []
    for (let round = 0; round < 4; round++) {
      superviseOnce(options)
      const slot = readSupervisorFile(layout.supervisor).slots.worker!
      delays.push(Date.parse(slot.nextAttemptAt!) - now)
      now = Date.parse(slot.nextAttemptAt!)
      superviseOnce(options)
      await waitGone(readState(layout.processes).serving!.worker!.pid)
    }
    expect(delays).toEqual([500, 1000, 2000, 4000])
    superviseOnce(options)
    const slot = readSupervisorFile(layout.supervisor).slots.worker!
    expect(slot.restarts).toBe(4)
    expect(slot.lastExit?.cause).toContain('Error: DATABASE_URL points at a database that does not exist')
  })

  it('stands aside while a deploy holds the lock', async () => {
    const serving = readState(layout.processes).serving!
    process.kill(serving.replicas[0]!.pid, 'SIGKILL')
    await waitGone(serving.replicas[0]!.pid)
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'])
    pids.push(holder.pid!)
    writeFileSync(
      layout.lock,
      JSON.stringify({ pid: holder.pid, host: hostname(), runId: 'deploy', since: new Date().toISOString() }),
    )
    let now = Date.now()
    const options = { layout, respawn: respawn(), log: (l: string) => lines.push(l), now: () => now }
    superviseOnce(options)
    now += 60_000
    superviseOnce(options)
    expect(respawned).toEqual([])
    rmSync(layout.lock)
    superviseOnce(options)
    now += 600
    superviseOnce(options)
    expect(respawned).toEqual([{ role: 'api', port: 4101 }])
  })
})
