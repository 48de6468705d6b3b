import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { requireBinary } from './binaries.js'
import { freePort, waitForPort } from './ports.js'
import { endAtExit } from './throwaway.js'
import { ensureLocalCa, ensureServerCertificate } from './tls.js'

export interface RedisOptions {
  /** Working directory (pid, log, and the append-only file when persistent); throwaway when absent. */
  dir?: string
  port?: number
  /** Keep data across restarts (append-only file in dir). Off for throwaway servers. */
  persistent?: boolean
  /**
   * AUTH password (requirepass). Absent: a random one for a throwaway server; a given dir without one
   * can only attach to (or stop) a running server.
   */
  password?: string
  /** Directory of the environment's CA (see tls.ts); default `<parent of dir>/tls`. */
  tlsDir?: string
}

export interface RedisServer {
  readonly host: string
  readonly port: number
  readonly dir: string
  /** `rediss://default:<password>@127.0.0.1:<port>`, the shape of ElastiCache's URL (secret). */
  readonly url: string
  /** Secret: the AUTH password. */
  readonly password: string
  /** PEM of the CA that signed the server certificate. */
  readonly caFile: string
  /** ioredis options that trust caFile: `new Redis(server.url, server.clientOptions)`. */
  readonly clientOptions: { tls: { ca: Buffer } }
  stop(): Promise<void>
}

/**
 * Written next to the pid file by servers of this version: a running server without it was started by
 * an older version (no TLS, no AUTH) and is restarted with them.
 */
const TLS_MARKER = 'redis.tls'

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

/**
 * Starts (or attaches to) a redis-server on 127.0.0.1, daemonized, with its pid file in dir, as
 * ElastiCache runs with transit encryption and an AUTH token: TLS only (no plain-text port), a
 * password, and `maxmemory-policy noeviction` (BullMQ's requirement: an evicted job key is a lost or
 * repeated job). Client certificates are not asked for, as on ElastiCache.
 */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const binary = requireBinary('redis-server', 'redis-server')
  const throwaway = !options.dir
  const tempRoot = throwaway ? mkdtempSync(join(tmpdir(), 'wa-redis-')) : undefined
  const dir = options.dir ?? join(tempRoot as string, 'data')
  mkdirSync(dir, { recursive: true })
  const tlsDir = options.tlsDir ?? join(dirname(dir), 'tls')
  const password = options.password ?? (throwaway ? randomBytes(24).toString('hex') : undefined)
  const host = '127.0.0.1'
  const portFile = join(dir, 'redis.port')
  const ca = await ensureLocalCa(tlsDir)
  const certificate = await ensureServerCertificate(ca, 'redis')

  let port: number
  const running = readPid(dir)
  // Without a password a caller can only attach (e.g. to stop it), whatever version started the server.
  const attach = existsSync(join(dir, TLS_MARKER)) || password === undefined
  if (running !== undefined && existsSync(portFile) && attach) {
    port = Number(readFileSync(portFile, 'utf8'))
  } else {
    // A server of an older version (plain text, no AUTH) stops first; its append-only file is kept.
    if (running !== undefined) await stopPid(running)
    if (password === undefined)
      throw new Error(`Redis in ${dir} does not run and no password was given to start it with`)
    port = options.port ?? (existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : await freePort())
    const persistence: [string, string][] = options.persistent
      ? [
          ['appendonly', 'yes'],
          ['appendfsync', 'everysec'],
        ]
      : [['appendonly', 'no']]
    rmSync(join(dir, TLS_MARKER), { force: true })
    const settings: [string, string][] = [
      ['port', '0'],
      ['tls-port', String(port)],
      ['tls-cert-file', certificate.certFile],
      ['tls-key-file', certificate.keyFile],
      ['tls-ca-cert-file', ca.caFile],
      ['tls-auth-clients', 'no'],
      ['requirepass', password],
      ['maxmemory-policy', 'noeviction'],
      ['bind', host],
      ['save', ''],
      ...persistence,
      ['dir', dir],
      ['daemonize', 'yes'],
      ['pidfile', join(dir, 'redis.pid')],
      ['logfile', join(dir, 'redis.log')],
    ]
    // The configuration goes through stdin: the password never shows in the process list.
    execFileSync(binary, ['-'], {
      input: settings.map(([key, value]) => `${key} ${JSON.stringify(value)}`).join('\n'),
      stdio: ['pipe', 'ignore', 'pipe'],
    })
    writeFileSync(portFile, String(port))
    writeFileSync(join(dir, TLS_MARKER), 'tls+auth\n')
    await waitForPort(port, 10_000, host)
  }

  const forget = tempRoot ? endAtExit(tempRoot, { pid: () => readPid(dir), signal: 'SIGTERM' }) : () => {}
  return {
    host,
    port,
    dir,
    password: password ?? '',
    caFile: ca.caFile,
    clientOptions: { tls: { ca: readFileSync(ca.caFile) } },
    url: `rediss://default:${encodeURIComponent(password ?? '')}@${host}:${port}`,
    async stop() {
      const pid = readPid(dir)
      if (pid !== undefined) await stopPid(pid)
      forget()
      if (tempRoot) rmSync(tempRoot, { recursive: true, force: true })
    },
  }
}

async function stopPid(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + 10_000
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
}
