import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

// The one way this target asks whether a process runs: by its pid, or by the pid file a server writes.

/** Whether a process with this pid exists (owned by anyone). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The pid on line `line` (0-based) of a pid file, when the file exists and that process runs. */
export function pidFromFile(file: string, line = 0): number | undefined {
  if (!existsSync(file)) return undefined
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  const pid = Number(text.split('\n')[line]?.trim())
  return isAlive(pid) ? pid : undefined
}

/** The postmaster of a data directory, when it runs (its postmaster.pid's first line). */
export const postgresPid = (dataDir: string) => pidFromFile(join(dataDir, 'postmaster.pid'))

/** The Redis server of a directory, when it runs. */
export const redisPid = (dir: string) => pidFromFile(join(dir, 'redis.pid'))
