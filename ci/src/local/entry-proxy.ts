import { rmSync } from 'node:fs'
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Dispatcher, Pool } from 'undici'

// The local target's stable entry URL. Hand-written on node:http + undici's Pool because the rollout and the
// supervisor need four things together that generic proxies (http-proxy, @fastify/http-proxy) and undici's
// BalancedPool do not offer: an atomic switch of the whole upstream set over a control socket; a switch that
// returns only once the old upstreams have no request in flight (so they can be stopped without failing
// one); a retry on another upstream that knows whether any byte of the request reached the failed one
// (undici's onRequestStart marks the moment a request is handed to a socket); and ejection of a dead upstream
// with active health checks that put it back once the supervisor restarted it on the same port.
// BalancedPool only lowers a failing upstream's weight and never probes it, so a killed replica keeps
// taking requests.

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
/**
 * Replayable even when the upstream may have seen them: Meta redelivers the same webhook itself and the
 * service stores each of its messages and statuses exactly once.
 */
const REPLAY_SAFE_PATHS = [/^\/webhooks\/whatsapp(?:\?|$)/]
/** The upstream itself failed (not the client, not a switch): take it out of rotation until it answers again. */
const UPSTREAM_DOWN = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
])
/**
 * Bodies are buffered so that a failed attempt can be replayed on another upstream. Every route of the
 * service takes at most 3 MB (Meta's webhooks) and answers 413 above its limit, so a body past this bound
 * gets that same 413 from the proxy, after the body was read so that the client sees the answer. (Streaming
 * it to a replica instead races the replica's close against our writes: the client would get EPIPE's 502.)
 */
const MAX_BODY_BYTES = 5 * 1024 * 1024
/** Past this much, an oversized body is not worth reading to the end: the connection is cut. */
const MAX_DISCARD_BYTES = 64 * 1024 * 1024
const TOO_LARGE = JSON.stringify({
  error: { code: 'FST_ERR_CTP_BODY_TOO_LARGE', message: 'Request body is too large', details: null },
})
const MAX_ATTEMPTS = 8
const CLIENT_CLOSED = 'CLIENT_CLOSED'

export interface EntryProxyStats {
  requests: number
  retried: number
  failed: number
  /** Times an upstream was taken out of rotation (connection failure or failed health checks). */
  ejected: number
}

export interface UpstreamHealth {
  origin: string
  healthy: boolean
}

export interface EntryProxy {
  readonly port: number
  readonly upstreams: readonly string[]
  readonly health: readonly UpstreamHealth[]
  readonly stats: EntryProxyStats
  /** Replaces every upstream at once; resolves when the previous ones have no request in flight. */
  switchUpstreams(next: string[], drainTimeoutMs?: number): Promise<{ drained: boolean }>
  /** Runs one round of health checks now (the interval runs them anyway). */
  checkHealth(): Promise<void>
  close(): Promise<void>
}

interface Upstream {
  origin: string
  pool: Pool
  healthy: boolean
  /** Consecutive failed health checks. */
  failedChecks: number
}

type Attempt = { outcome: 'done' } | { outcome: 'error'; code: string; reached: boolean; answered: boolean }

function errorCode(error: unknown): string {
  const e = error as { code?: string; cause?: { code?: string } }
  return e.cause?.code ?? e.code ?? ''
}

/** The whole body, or 'too-large' once MAX_BODY_BYTES is passed (the rest is read and dropped). */
function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_BODY_BYTES) chunks.push(chunk)
      else if (size > MAX_DISCARD_BYTES) req.destroy()
      else chunks.length = 0
    })
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? 'too-large' : Buffer.concat(chunks)))
    req.on('error', reject)
    req.on('close', () => {
      if (!req.complete)
        reject(Object.assign(new Error('client closed the request'), { code: CLIENT_CLOSED }))
    })
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

/** Whether a request that may have reached an upstream can be sent again without doing its work twice. */
function replaySafe(req: IncomingMessage): boolean {
  if (IDEMPOTENT.has(req.method ?? 'GET')) return true
  // The service answers a repeated Idempotency-Key with the first request's result.
  if (req.headers['idempotency-key']) return true
  return REPLAY_SAFE_PATHS.some((p) => p.test(req.url ?? '/'))
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function startEntryProxy(options: {
  port: number
  host?: string
  upstreams?: string[]
  /** Path of the active health check (default /health/live: the process answers). */
  healthPath?: string
  /** Interval of the active health checks (default 1 s; 0 turns them off). */
  healthIntervalMs?: number
  /** Failed checks in a row that take an upstream out of rotation (default 2). */
  unhealthyAfter?: number
}): Promise<EntryProxy> {
  const healthPath = options.healthPath ?? '/health/live'
  const healthIntervalMs = options.healthIntervalMs ?? 1_000
  const unhealthyAfter = options.unhealthyAfter ?? 2
  const newUpstream = (origin: string): Upstream => ({
    origin,
    pool: new Pool(origin, { connections: 64, keepAliveTimeout: 4_000, pipelining: 1 }),
    healthy: true,
    failedChecks: 0,
  })
  let current: Upstream[] = (options.upstreams ?? []).map(newUpstream)
  let next = 0
  const stats: EntryProxyStats = { requests: 0, retried: 0, failed: 0, ejected: 0 }

  const eject = (upstream: Upstream) => {
    if (!upstream.healthy) return
    upstream.healthy = false
    stats.ejected++
  }

  /** Round robin over the healthy upstreams not tried yet; an ejected one only when nothing else is left. */
  function pick(tried: Set<Upstream>): Upstream | undefined {
    const candidates = current.filter((u) => !tried.has(u))
    const healthy = candidates.filter((u) => u.healthy)
    const from = healthy.length > 0 ? healthy : candidates
    if (from.length === 0) return undefined
    next = (next + 1) % from.length
    return from[next]
  }

  function attempt(
    upstream: Upstream,
    req: IncomingMessage,
    res: ServerResponse,
    headers: Record<string, string | string[]>,
    body: Buffer | undefined,
  ): Promise<Attempt> {
    return new Promise((resolve) => {
      let reached = false
      let answered = false
      let clientClosed = false
      let controller: Dispatcher.DispatchController | undefined
      const onClose = () => {
        if (res.writableFinished) return
        clientClosed = true
        controller?.abort(new Error('client closed the connection'))
      }
      res.once('close', onClose)
      const settle = (result: Attempt) => {
        res.off('close', onClose)
        resolve(result)
      }
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(c) {
          // From here bytes of the request may reach the upstream.
          controller = c
          reached = true
          if (clientClosed) c.abort(new Error('client closed the connection'))
        },
        onResponseStart(c, statusCode, responseHeaders) {
          controller = c
          answered = true
          const out: Record<string, string | string[]> = {}
          for (const [name, value] of Object.entries(responseHeaders)) {
            if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value
          }
          res.writeHead(statusCode, out)
        },
        onResponseData(c, chunk) {
          if (!res.write(chunk)) {
            c.pause()
            res.once('drain', () => c.resume())
          }
        },
        onResponseEnd() {
          res.end()
          settle({ outcome: 'done' })
        },
        onResponseError(_c, error) {
          const code = clientClosed ? CLIENT_CLOSED : errorCode(error) || 'ERROR'
          settle({ outcome: 'error', code, reached, answered })
        },
      }
      upstream.pool.dispatch(
        {
          path: req.url ?? '/',
          method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers,
          body: body && body.length > 0 ? body : null,
        },
        handler,
      )
    })
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++
    const method = req.method ?? 'GET'
    const read = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req)
    if (read === 'too-large') {
      res.writeHead(413, { 'content-type': 'application/json; charset=utf-8', connection: 'close' })
      res.end(TOO_LARGE)
      return
    }
    const headers = forwardHeaders(req)
    const tried = new Set<Upstream>()
    let lastCode = ''
    for (let n = 1; n <= MAX_ATTEMPTS; n++) {
      let upstream = pick(tried)
      if (!upstream && current.length > 0) {
        // Every upstream failed this request once: give a restart or a switch a moment, then go round again.
        tried.clear()
        await sleep(100 * n)
        upstream = pick(tried)
      }
      if (!upstream) {
        stats.failed++
        res.writeHead(503, { 'content-type': 'application/json' })
        res.end('{"error":{"code":"NO_UPSTREAM","message":"no version of the service is running"}}')
        return
      }
      tried.add(upstream)
      const result = await attempt(upstream, req, res, headers, read)
      if (result.outcome === 'done') return
      // The client left: nothing to answer, and not a failure of the service.
      if (result.code === CLIENT_CLOSED) return
      lastCode = result.code
      if (UPSTREAM_DOWN.has(result.code)) eject(upstream)
      const again = !result.answered && !res.headersSent && (!result.reached || replaySafe(req))
      if (!again) break
      stats.retried++
    }
    stats.failed++
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'application/json' })
      res.end(`{"error":{"code":"BAD_GATEWAY","message":"upstream failed: ${lastCode || 'error'}"}}`)
    } else res.destroy()
  }

  let checking: Promise<void> | undefined
  function checkHealth(): Promise<void> {
    checking ??= Promise.all(
      current.map(async (upstream) => {
        let ok = false
        try {
          const response = await upstream.pool.request({
            path: healthPath,
            method: 'GET',
            headersTimeout: 1_000,
            bodyTimeout: 1_000,
          })
          await response.body.dump()
          ok = response.statusCode >= 200 && response.statusCode < 300
        } catch {
          ok = false
        }
        if (ok) {
          upstream.failedChecks = 0
          upstream.healthy = true
        } else if (++upstream.failedChecks >= unhealthyAfter) eject(upstream)
      }),
    )
      .then(() => undefined)
      .finally(() => {
        checking = undefined
      })
    return checking
  }
  const timer =
    healthIntervalMs > 0
      ? setInterval(() => void checkHealth().catch(() => undefined), healthIntervalMs)
      : undefined
  timer?.unref()

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: { code?: string }) => {
      if (error.code === CLIENT_CLOSED) return
      stats.failed++
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' })
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
    get health() {
      return current.map((u) => ({ origin: u.origin, healthy: u.healthy }))
    },
    stats,
    checkHealth,
    async switchUpstreams(origins, drainTimeoutMs = 15_000) {
      const previous = current
      const kept = previous.filter((u) => origins.includes(u.origin))
      current = origins.map((origin) => kept.find((u) => u.origin === origin) ?? newUpstream(origin))
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
      if (timer) clearInterval(timer)
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await Promise.all(current.map((u) => u.pool.close()))
    },
  }
}

/** Small JSON bodies of the control socket. */
async function readControlBody(req: IncomingMessage): Promise<Buffer> {
  const body = await readBody(req)
  if (body === 'too-large') throw new Error('request body too large')
  return body
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
        reply(200, {
          upstreams: proxy.upstreams,
          health: proxy.health,
          stats: proxy.stats,
          port: proxy.port,
          pid: process.pid,
        })
      } else if (req.url === '/upstreams' && req.method === 'PUT') {
        const parsed = JSON.parse((await readControlBody(req)).toString('utf8')) as { upstreams?: unknown }
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
