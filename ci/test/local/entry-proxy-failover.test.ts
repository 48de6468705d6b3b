import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { freePort, waitForPort } from '@whatsapp-saas/local-services'
import autocannon from 'autocannon'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { type EntryProxy, startEntryProxy } from '../../src/local/entry-proxy.js'

// The entry proxy against real upstream processes: a replica killed with SIGKILL under load, a body larger
// than the proxy buffers, requests that must not be replayed.

const fixture = join(import.meta.dirname, 'fixtures', 'upstream.mjs')
const children: ChildProcess[] = []
let proxy: EntryProxy | undefined

async function replica(port?: number): Promise<{ origin: string; port: number; child: ChildProcess }> {
  const p = port ?? (await freePort())
  const child = spawn(process.execPath, [fixture], {
    env: { PATH: process.env.PATH, PORT: String(p) },
    stdio: 'ignore',
  })
  children.push(child)
  await waitForPort(p, 15_000)
  return { origin: `http://127.0.0.1:${p}`, port: p, child }
}

const kill = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })

const url = (path: string) => `http://127.0.0.1:${proxy!.port}${path}`

afterEach(async () => {
  await proxy?.close()
  proxy = undefined
  await Promise.all(children.splice(0).map(kill))
})

describe('entry proxy with real upstream processes', () => {
  it('answers a 5 MB body with the service’s own 413 instead of dropping the connection', async () => {
    const a = await replica()
    proxy = await startEntryProxy({ port: 0, upstreams: [a.origin], healthIntervalMs: 0 })
    const post = async (base: string, size: number) => {
      const response = await request(`${base}/work`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: Buffer.alloc(size, 0x20),
      })
      const body = (await response.body.json()) as { code?: string; error?: { code?: string } }
      return [response.statusCode, body.error?.code ?? body.code]
    }
    // Within what the proxy buffers the replica itself answers, exactly as it does directly; past it
    // the proxy answers the same. (The direct reference uses the smaller body only: a replica that
    // answers 413 early may close before a client has written 5 MB, which is an EPIPE on the client.)
    const direct = await post(a.origin, 1024 * 1024)
    expect(direct).toEqual([413, 'FST_ERR_CTP_BODY_TOO_LARGE'])
    for (const size of [1024 * 1024, 5 * 1024 * 1024 + 1]) expect(await post(url(''), size)).toEqual(direct)
    // The connection that carried the big body was answered, and the proxy still serves.
    expect((await request(url('/work?ms=0'))).statusCode).toBe(200)
  })

  it('loses no request when a replica is SIGKILLed under load, and takes it back once restarted', async () => {
    const a = await replica()
    const b = await replica()
    proxy = await startEntryProxy({ port: 0, upstreams: [a.origin, b.origin], healthIntervalMs: 200 })
    let load: autocannon.Instance | undefined
    const finished = new Promise<autocannon.Result>((resolve, reject) => {
      load = autocannon(
        {
          url: url('/work'),
          connections: 10,
          duration: 60,
          requests: [
            { method: 'GET', path: '/work?ms=20' },
            // Replayable POSTs: an Idempotency-Key, and Meta's webhooks (delivered again by Meta anyway).
            {
              method: 'POST',
              path: '/work?ms=20',
              headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1' },
              body: '{"to":"1"}',
            },
            {
              method: 'POST',
              path: '/webhooks/whatsapp',
              headers: { 'content-type': 'application/json' },
              body: '{"entry":[]}',
            },
          ],
        },
        (error, result) => (error ? reject(error) : resolve(result)),
      )
    })
    await new Promise((r) => setTimeout(r, 1_000))
    await kill(a.child)
    await new Promise((r) => setTimeout(r, 1_500))
    const restarted = await replica(a.port)
    // Back in rotation: requests reach the restarted process again.
    const pids = new Set<number>()
    for (let i = 0; i < 200 && !pids.has(restarted.child.pid!); i++) {
      const response = await request(url('/work?ms=0'))
      pids.add(((await response.body.json()) as { pid: number }).pid)
      await new Promise((r) => setTimeout(r, 25))
    }
    load!.stop()
    const result = await finished
    expect(result.requests.total).toBeGreaterThan(100)
    expect([result.errors, result.timeouts, result.non2xx - result['4xx']]).toEqual([0, 0, 0])
    expect(proxy.stats.failed).toBe(0)
    expect(proxy.stats.ejected).toBeGreaterThan(0)
    expect(pids.has(restarted.child.pid!)).toBe(true)
    expect(proxy.health.every((u) => u.healthy)).toBe(true)
  })

  it('replays a POST that never reached an upstream, never one that may have', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`
    const a = await replica()
    proxy = await startEntryProxy({ port: 0, upstreams: [dead, a.origin], healthIntervalMs: 0 })
    for (let i = 0; i < 4; i++) {
      const response = await request(url('/work'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
      expect(response.statusCode).toBe(200)
      await response.body.dump()
    }
    expect(proxy.stats.failed).toBe(0)

    // A POST without an Idempotency-Key held by a replica that dies: the service may have done its work.
    const b = await replica()
    await proxy.switchUpstreams([a.origin, b.origin])
    const pending = [0, 1].map(() =>
      request(url('/work?ms=3000'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      }),
    )
    await new Promise((r) => setTimeout(r, 500))
    await kill(a.child)
    const statuses = await Promise.all(
      pending.map(async (p) => {
        const response = await p
        await response.body.dump()
        return response.statusCode
      }),
    )
    expect(statuses.sort()).toEqual([200, 502])
  })
})
