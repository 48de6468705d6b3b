import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import type { DeployLock } from '../core/types.js'
import { isAlive } from './pid-probe.js'

export interface LockHolder {
  pid: number
  host: string
  runId: string
  since: string
}

/** Raised when another deploy holds the environment; the message names the holder. */
export class LockHeldError extends Error {
  constructor(
    readonly holder: LockHolder,
    path: string,
  ) {
    super(
      `another deploy holds this environment: pid ${holder.pid} on ${holder.host}, run ${holder.runId}, since ${holder.since} (lock ${path})`,
    )
    this.name = 'LockHeldError'
  }
}

/**
 * One deploy per environment: an exclusively created lock file naming its holder. A lock left by a process
 * that no longer runs on this host is taken over; one held by a live process (or another host) is refused.
 */
export function acquireFileLock(path: string, runId: string): DeployLock {
  const holder: LockHolder = { pid: process.pid, host: hostname(), runId, since: new Date().toISOString() }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644)
      writeSync(fd, `${JSON.stringify(holder)}\n`)
      closeSync(fd)
      return {
        async release() {
          // Only remove the lock if it is still ours (a takeover after a crash must not be undone).
          const now = readHolder(path)
          if (now && now.pid === holder.pid && now.runId === holder.runId) rmSync(path, { force: true })
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const current = readHolder(path)
      if (current && (current.host !== hostname() || isAlive(current.pid)))
        throw new LockHeldError(current, path)
      // Stale (dead pid on this host) or unreadable (a crash between create and write): take it over.
      rmSync(path, { force: true })
    }
  }
  throw new Error(`could not acquire deploy lock ${path}`)
}

export function readHolder(path: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder
  } catch {
    return undefined
  }
}
