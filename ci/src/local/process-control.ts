import { spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { request } from 'undici'
import { isAlive } from './pid-probe.js'

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

/** A line that states an error: `TypeError: …`, `Error [ERR_X]: …`, pino's error/fatal levels, npm's `ERR!`. */
const ERROR_MESSAGE =
  /^\s*(?:Uncaught\s+)?[\w.$]*(?:Error|Exception)(?:\s*\[[\w-]+\])?:|"level":\s*[56]\d\b|\bERR!|^\s*(?:fatal|FATAL|panic)\b/
/** Weaker hints, used only when no line states an error outright. */
const ERROR_HINT = /\berror\b|\bE[A-Z]{4,}\b/i
const MAX_LINE = 400
const MAX_READ_BYTES = 1024 * 1024

function readable(line: string): string {
  // pino's JSON lines: the message and the error's message say what matters; the rest is noise in a reason.
  if (line.startsWith('{')) {
    try {
      const entry = JSON.parse(line) as { msg?: unknown; err?: { type?: unknown; message?: unknown } }
      const err = entry.err?.message ? `${entry.err.type ?? 'Error'}: ${entry.err.message}` : ''
      const text = [entry.msg, err].filter((p) => typeof p === 'string' && p.length > 0).join(' — ')
      if (text) line = text
    } catch {
      // Not JSON after all: keep the line as it is.
    }
  }
  const flat = line.replace(/\s+/g, ' ').trim()
  return flat.length > MAX_LINE ? `${flat.slice(0, MAX_LINE)}…` : flat
}

/**
 * What a failed process said, for a report's reason: its first error line (a crash prints the error first
 * and a screenful of stack and shutdown lines after it, so the last lines alone lose the cause) followed by
 * the last `lines` lines. `fromByte` skips what earlier runs wrote to the same log file. Callers scrub it.
 */
export function logTail(logFile: string, lines = 5, fromByte = 0): string {
  let text: string
  try {
    const size = statSync(logFile).size
    const start = Math.max(fromByte, size - MAX_READ_BYTES)
    const fd = openSync(logFile, 'r')
    try {
      const buffer = Buffer.alloc(Math.max(0, size - start))
      readSync(fd, buffer, 0, buffer.length, start)
      text = buffer.toString('utf8')
    } finally {
      closeSync(fd)
    }
  } catch {
    return ''
  }
  const all = text.split('\n').filter((l) => l.trim().length > 0)
  const tailStart = Math.max(0, all.length - lines)
  let first = all.findIndex((l) => ERROR_MESSAGE.test(l))
  if (first < 0) first = all.findIndex((l) => ERROR_HINT.test(l))
  const parts = all.slice(tailStart).map(readable)
  if (first >= 0 && first < tailStart)
    parts.unshift(readable(all[first]!), ...(first < tailStart - 1 ? ['…'] : []))
  return parts.join(' | ')
}

/** Current size of a file (0 when absent): where the next process's lines will start. */
export function logSize(logFile: string): number {
  try {
    return statSync(logFile).size
  } catch {
    return 0
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
  /** Where this process's lines start in logFile (appended logs hold earlier runs). */
  logFrom?: number
  timeoutMs: number
  signal?: AbortSignal
}): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  const logFrom = options.logFrom ?? 0
  let last: number | undefined
  for (;;) {
    options.signal?.throwIfAborted()
    if (!isAlive(options.pid))
      throw new Error(
        `process ${options.pid} exited before it was ready: ${logTail(options.logFile, 5, logFrom)}`,
      )
    last = await probe(options.url)
    if (last === 200) return
    if (Date.now() > deadline)
      throw new Error(
        `${options.url} not ready after ${Math.round(options.timeoutMs / 1000)} s (last answer: ${last ?? 'none'})`,
      )
    await sleep(100)
  }
}
