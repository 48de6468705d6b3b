import { hostname } from 'node:os'
import { readHolder } from './deploy-lock.js'
import { type Deployment, type ProcessRecord, readState, writeState } from './environment-state.js'
import { readJson, writeJson } from './json-file.js'
import { isAlive } from './pid-probe.js'
import { logTail } from './process-control.js'
import type { LocalLayout } from './state-layout.js'

// The local environment's supervisor: restarts a replica or the worker of the serving version when its process
// died (crash, OOM, kill), with an exponential backoff so a process that dies at start does not spin the
// machine. It runs as its own detached process (supervisor-main.ts), restarts replicas on their own port so
// the entry proxy's health checks put them back in rotation, and stands aside while a deploy holds the lock:
// a rollout starts and stops processes itself. Written by hand: the processes it restarts were started by
// earlier CLI runs, not by it, and must survive it (pm2 or a systemd unit would own their lifecycle instead).

export type Role = 'api' | 'worker'

/** Starts one process of the serving version again (replicas on the given port) and returns its record. */
export type Respawn = (role: Role, deployment: Deployment, port?: number) => ProcessRecord

export interface SlotStatus {
  restarts: number
  /** Crashes in a row without a stable run in between; drives the backoff. */
  consecutive: number
  lastExit?: { at: string; pid: number; cause: string }
  /** When the next restart may happen (backoff). */
  nextAttemptAt?: string
  lastRestartAt?: string
}

export interface SupervisorFile {
  slots: Record<string, SlotStatus>
}

export interface SupervisorOptions {
  layout: LocalLayout
  respawn: Respawn
  log: (line: string) => void
  /** Applied to what a dead process's log says before it is recorded (secrets). */
  scrub?: (text: string) => string
  /** First restart delay; doubles on each crash in a row, up to maxBackoffMs (defaults 500 ms, 30 s). */
  baseBackoffMs?: number
  maxBackoffMs?: number
  /** A process that ran this long before dying starts a fresh backoff (default 30 s). */
  stableAfterMs?: number
  now?: () => number
}

export const slotKey = (role: Role, port?: number) => (role === 'api' ? `api:${port}` : 'worker')

export function readSupervisorFile(path: string): SupervisorFile {
  return readJson<SupervisorFile>(path, { slots: {} })
}

function deployInProgress(layout: LocalLayout): boolean {
  const holder = readHolder(layout.lock)
  return holder !== undefined && (holder.host !== hostname() || isAlive(holder.pid))
}

/** One pass: finds dead processes of the serving version and restarts those whose backoff has elapsed. */
export function superviseOnce(options: SupervisorOptions): void {
  const { layout, log } = options
  const now = options.now ?? Date.now
  const base = options.baseBackoffMs ?? 500
  const max = options.maxBackoffMs ?? 30_000
  const stableAfter = options.stableAfterMs ?? 30_000
  if (deployInProgress(layout)) return
  const serving = readState(layout.processes).serving
  if (!serving) return
  const file = readSupervisorFile(layout.supervisor)
  let changed = false
  const members: { role: Role; record: ProcessRecord; port?: number }[] = [
    ...serving.replicas.map((r) => ({ role: 'api' as const, record: r, port: r.port })),
    ...(serving.worker ? [{ role: 'worker' as const, record: serving.worker }] : []),
  ]
  for (const { role, record, port } of members) {
    if (isAlive(record.pid)) continue
    const key = slotKey(role, port)
    const slot: SlotStatus = file.slots[key] ?? { restarts: 0, consecutive: 0 }
    file.slots[key] = slot
    if (slot.lastExit?.pid !== record.pid) {
      const lived = now() - Date.parse(record.startedAt)
      slot.consecutive = lived >= stableAfter ? 1 : slot.consecutive + 1
      const delay = Math.min(max, base * 2 ** (slot.consecutive - 1))
      slot.lastExit = {
        at: new Date(now()).toISOString(),
        pid: record.pid,
        cause: (options.scrub ?? String)(logTail(record.logFile, 3, record.logFrom ?? 0) || 'no output'),
      }
      slot.nextAttemptAt = new Date(now() + delay).toISOString()
      changed = true
      log(`${key} (pid ${record.pid}) exited after ${Math.round(lived / 1000)} s; restart in ${delay} ms`)
    }
    if (now() < Date.parse(slot.nextAttemptAt ?? '')) continue
    // Read again right before acting: a deploy may have replaced the serving version meanwhile.
    const fresh = readState(layout.processes)
    if (deployInProgress(layout) || fresh.serving?.since !== serving.since) return
    const started = options.respawn(role, fresh.serving, port)
    if (role === 'api') {
      fresh.serving.replicas = fresh.serving.replicas.map((r) =>
        r.port === port ? { ...started, port: r.port } : r,
      )
    } else fresh.serving.worker = started
    writeState(layout.processes, fresh)
    slot.restarts++
    slot.lastRestartAt = new Date(now()).toISOString()
    delete slot.nextAttemptAt
    changed = true
    log(`${key} restarted as pid ${started.pid} (restart ${slot.restarts})`)
  }
  if (changed) writeJson(layout.supervisor, file)
}

/** Supervises until the signal aborts, one pass per interval. */
export async function runSupervisor(
  options: SupervisorOptions & { intervalMs?: number; signal: AbortSignal },
): Promise<void> {
  const interval = options.intervalMs ?? 500
  while (!options.signal.aborted) {
    try {
      superviseOnce(options)
    } catch (error) {
      options.log(`supervision pass failed: ${(error as Error).message}`)
    }
    await new Promise((r) => setTimeout(r, interval))
  }
}
