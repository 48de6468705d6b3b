import { rmSync } from 'node:fs'
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'

// The local target's stable entry URL. Hand-written on node:http + undici because the rollout needs three
// things together that generic proxies do not offer: an atomic switch of the whole upstream set over a
// control socket, a switch that returns only once the old upstreams have no request in flight (so they can
// be stopped without failing one), and a retry on another upstream of a request that hit a closing one.

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
])
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])
/** Nothing reached the upstream: safe to retry any method. */
const NOT_SENT = new Set(['ECONNREFUSED', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED'])
/** The connection broke mid-exchange: safe to retry idempotent methods only. */
const BROKEN = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'])
/** Meta's webhook payloads go up to 3 MB; the proxy buffers bodies so a retry can resend them. */
const MAX_BODY_BYTES = 5 * 1024 * 1024
const MAX_ATTEMPTS = 6

export interface EntryProxyStats {
  requests: number
  retried: number
  failed: number
}

export interface EntryProxy {
  readonly port: number
  readonly upstreams: readonly string[]
  readonly stats: EntryProxyStats
  /** Replaces every upstream at once; resolves when the previous ones have no request in flight. */
  switchUpstreams(next: string[], drainTimeoutMs?: number): Promise<{ drained: boolean }>
  close(): Promise<void>
}

interface Upstream {
  origin: string
  pool: Pool
}

function errorCode(error: unknown): string {
  const e = error as { code?: string; cause?: { code?: string } }
  return e.cause?.code ?? e.code ?? ''
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        reject(Object.assign(new Error('request body too large'), { status: 413 }))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function forwardHeaders(req: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(req.headers as IncomingHttpHeaders)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue
    headers[name] = value
  }
  headers['x-forwarded-for'] = req.socket.remoteAddress ?? '127.0.0.1'
  headers['x-forwarded-proto'] = 'http'
  if (req.headers.host) headers['x-forwarded-host'] = req.headers.host
  return headers
}

export async function startEntryProxy(options: {
  port: number
  host?: string
  upstreams?: string[]
}): Promise<EntryProxy> {
  let current: Upstream[] = (options.upstreams ?? []).map((origin) => ({ origin, pool: newPool(origin) }))
  let next = 0
  const stats: EntryProxyStats = { requests: 0, retried: 0, failed: 0 }

  function newPool(origin: string): Pool {
    return new Pool(origin, { connections: 64, keepAliveTimeout: 4_000, pipelining: 1 })
  }

  function pick(): Upstream | undefined {
    if (current.length === 0) return undefined
    next = (next + 1) % current.length
    return current[next]
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++
    const method = req.method ?? 'GET'
    const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req)
    const headers = forwardHeaders(req)
    for (let attempt = 1; ; attempt++) {
      const upstream = pick()
      if (!upstream) {
        stats.failed++
        res.writeHead(503, { 'content-type': 'application/json' })
        res.end('{"error":{"code":"NO_UPSTREAM","message":"no version of the service is running"}}')
        return
      }
      try {
        const response = await upstream.pool.request({
          path: req.url ?? '/',
          method: method as 'GET',
          headers,
          body: body && body.length > 0 ? body : undefined,
        })
        const outHeaders: Record<string, string | string[]> = {}
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined && !HOP_BY_HOP.has(name)) outHeaders[name] = value
        }
        res.writeHead(response.statusCode, outHeaders)
        for await (const chunk of response.body) res.write(chunk)
        res.end()
        return
      } catch (error) {
        const code = errorCode(error)
        const retryable = NOT_SENT.has(code) || (IDEMPOTENT.has(method) && BROKEN.has(code))
        if (retryable && attempt < MAX_ATTEMPTS && !res.headersSent) {
          stats.retried++
          // The set may be mid-switch: give the control plane a moment before the next attempt.
          await new Promise((r) => setTimeout(r, 20 * attempt))
          continue
        }
        stats.failed++
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'application/json' })
          res.end(`{"error":{"code":"BAD_GATEWAY","message":"upstream failed: ${code || 'error'}"}}`)
        } else res.destroy()
        return
      }
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: { status?: number }) => {
      stats.failed++
      if (!res.headersSent) {
        res.writeHead(error.status ?? 500, { 'content-type': 'application/json' })
        res.end('{"error":{"code":"PROXY_ERROR","message":"request could not be forwarded"}}')
      } else res.destroy()
    })
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve())
  })

  return {
    get port() {
      return (server.address() as AddressInfo).port
    },
    get upstreams() {
      return current.map((u) => u.origin)
    },
    stats,
    async switchUpstreams(origins, drainTimeoutMs = 15_000) {
      const previous = current
      const kept = previous.filter((u) => origins.includes(u.origin))
      current = origins.map(
        (origin) => kept.find((u) => u.origin === origin) ?? { origin, pool: newPool(origin) },
      )
      const leaving = previous.filter((u) => !origins.includes(u.origin))
      // Pool.close() waits for queued and in-flight requests, then closes the sockets from our side: once it
      // resolves the old replicas can be stopped without any request of ours on them.
      const closing = Promise.all(leaving.map((u) => u.pool.close())).then(() => true)
      const timedOut = new Promise<boolean>((resolve) =>
        setTimeout(() => resolve(false), drainTimeoutMs).unref(),
      )
      const drained = await Promise.race([closing, timedOut])
      if (!drained) await Promise.all(leaving.map((u) => u.pool.destroy()))
      return { drained }
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await Promise.all(current.map((u) => u.pool.close()))
    },
  }
}

/**
 * The control plane on a Unix socket (file permissions guard it): `GET /upstreams` answers the current set and
 * counters; `PUT /upstreams` with `{"upstreams":[...]}` switches and answers once the old set is drained.
 */
export async function startControlServer(proxy: EntryProxy, socketPath: string): Promise<Server> {
  rmSync(socketPath, { force: true })
  const control = createServer(async (req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    try {
      if (req.url === '/upstreams' && req.method === 'GET') {
        reply(200, { upstreams: proxy.upstreams, stats: proxy.stats, port: proxy.port, pid: process.pid })
      } else if (req.url === '/upstreams' && req.method === 'PUT') {
        const parsed = JSON.parse((await readBody(req)).toString('utf8')) as { upstreams?: unknown }
        const upstreams = parsed.upstreams
        if (
          !Array.isArray(upstreams) ||
          !upstreams.every((u) => typeof u === 'string' && /^http:\/\//.test(u))
        )
          return reply(400, { error: 'upstreams must be an array of http:// origins' })
        const { drained } = await proxy.switchUpstreams(upstreams)
        reply(200, { upstreams: proxy.upstreams, drained })
      } else reply(404, { error: 'not found' })
    } catch (error) {
      reply(500, { error: (error as Error).message })
    }
  })
  await new Promise<void>((resolve, reject) => {
    control.once('error', reject)
    control.listen(socketPath, () => resolve())
  })
  return control
}
