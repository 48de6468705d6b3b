import { spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { request } from 'undici'

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Starts a process that survives the CLI: its own session, output appended to a log file. */
export function spawnDetached(options: {
  command: string
  args: string[]
  env: NodeJS.ProcessEnv
  cwd: string
  logFile: string
}): number {
  mkdirSync(dirname(options.logFile), { recursive: true })
  const out = openSync(options.logFile, 'a')
  try {
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', out, out],
    })
    if (child.pid === undefined) throw new Error(`could not start ${options.command}`)
    child.unref()
    return child.pid
  } finally {
    closeSync(out)
  }
}

/** SIGTERM, wait up to graceMs for the process to finish its work, then SIGKILL. Resolves once it is gone. */
export async function stopProcess(pid: number, graceMs = 25_000): Promise<'exited' | 'killed' | 'absent'> {
  if (!isAlive(pid)) return 'absent'
  try {
    process.kill(pid, 'SIGTERM')
  } catch {
    return 'absent'
  }
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'exited'
    await sleep(50)
  }
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    return 'exited'
  }
  while (isAlive(pid)) await sleep(20)
  return 'killed'
}

export function logTail(logFile: string, lines = 5): string {
  try {
    return readFileSync(logFile, 'utf8').trim().split('\n').slice(-lines).join(' | ')
  } catch {
    return ''
  }
}

/** GET url → status code, or undefined when nothing answers within timeoutMs. */
export async function probe(url: string, timeoutMs = 1_000): Promise<number | undefined> {
  try {
    const response = await request(url, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
    await response.body.dump()
    return response.statusCode
  } catch {
    return undefined
  }
}

/**
 * Waits until `url` answers 200. Fails early when the process exits (with the tail of its log), and after
 * timeoutMs. Honours the signal.
 */
export async function waitUntilHealthy(options: {
  url: string
  pid: number
  logFile: string
  timeoutMs: number
  signal?: AbortSignal
}): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  let last: number | undefined
  for (;;) {
    options.signal?.throwIfAborted()
    if (!isAlive(options.pid))
      throw new Error(`process ${options.pid} exited before it was ready: ${logTail(options.logFile)}`)
    last = await probe(options.url)
    if (last === 200) return
    if (Date.now() > deadline)
      throw new Error(
        `${options.url} not ready after ${Math.round(options.timeoutMs / 1000)} s (last answer: ${last ?? 'none'})`,
      )
    await sleep(100)
  }
}
