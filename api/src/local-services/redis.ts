import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { requireBinary } from './binaries.js'
import { freePort, waitForPort } from './ports.js'

const run = promisify(execFile)

export interface RedisOptions {
  /** Working directory (pid, log, and the append-only file when persistent); throwaway when absent. */
  dir?: string
  port?: number
  /** Keep data across restarts (append-only file in dir). Off for throwaway servers. */
  persistent?: boolean
}

export interface RedisServer {
  readonly host: string
  readonly port: number
  readonly dir: string
  readonly url: string
  stop(): Promise<void>
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function readPid(dir: string): number | undefined {
  const file = join(dir, 'redis.pid')
  if (!existsSync(file)) return undefined
  const pid = Number(readFileSync(file, 'utf8').trim())
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined
}

/** Starts (or attaches to) a redis-server on 127.0.0.1, daemonized, with its pid file in dir. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const binary = requireBinary('redis-server', 'redis-server')
  const throwaway = !options.dir
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'wa-redis-'))
  mkdirSync(dir, { recursive: true })
  const host = '127.0.0.1'
  const portFile = join(dir, 'redis.port')

  let port: number
  if (readPid(dir) !== undefined && existsSync(portFile)) {
    port = Number(readFileSync(portFile, 'utf8'))
  } else {
    port = options.port ?? (await freePort())
    const persistence = options.persistent
      ? ['--appendonly', 'yes', '--appendfsync', 'everysec']
      : ['--appendonly', 'no']
    await run(binary, [
      '--port',
      String(port),
      '--bind',
      host,
      '--save',
      '',
      ...persistence,
      '--dir',
      dir,
      '--daemonize',
      'yes',
      '--pidfile',
      join(dir, 'redis.pid'),
      '--logfile',
      join(dir, 'redis.log'),
    ])
    const { writeFileSync } = await import('node:fs')
    writeFileSync(portFile, String(port))
    await waitForPort(port, 10_000, host)
  }

  return {
    host,
    port,
    dir,
    url: `redis://${host}:${port}`,
    async stop() {
      const pid = readPid(dir)
      if (pid !== undefined) {
        process.kill(pid, 'SIGTERM')
        const deadline = Date.now() + 10_000
        while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      }
      if (throwaway) rmSync(dir, { recursive: true, force: true })
    },
  }
}
