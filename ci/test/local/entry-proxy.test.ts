import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { freePort } from '@whatsapp-saas/local-services'
import autocannon from 'autocannon'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { type EntryProxy, startEntryProxy } from '../../src/local/entry-proxy.js'

const servers: Server[] = []
let proxy: EntryProxy | undefined

/** An upstream that answers its name, optionally slowly (to hold requests in flight during a switch). */
async function upstream(name: string, delayMs = 0): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => {
      body += c
    })
    req.on('end', () =>
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.end(`${name}${body ? `:${body}` : ''}`)
      }, delayMs),
    )
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  servers.push(server)
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

const get = async (path = '/') => {
  const r = await request(`http://127.0.0.1:${proxy!.port}${path}`)
  return { status: r.statusCode, body: await r.body.text() }
}

afterEach(async () => {
  await proxy?.close()
  proxy = undefined
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))))
})

describe('entry proxy', () => {
  it('forwards method, path and body, and answers 503 with no upstream', async () => {
    proxy = await startEntryProxy({ port: 0 })
    expect((await get()).status).toBe(503)
    const a = await upstream('a')
    await proxy.switchUpstreams([a.origin])
    expect(await get('/x?y=1')).toEqual({ status: 200, body: 'a' })
    const posted = await request(`http://127.0.0.1:${proxy.port}/`, { method: 'POST', body: 'hello' })
    expect(await posted.body.text()).toBe('a:hello')
  })

  it('retries a request that finds an upstream gone on another one', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`
    const a = await upstream('a')
    proxy = await startEntryProxy({ port: 0, upstreams: [dead, a.origin] })
    for (let i = 0; i < 6; i++) expect(await get()).toEqual({ status: 200, body: 'a' })
    expect(proxy.stats.retried).toBeGreaterThan(0)
    expect(proxy.stats.failed).toBe(0)
  })

  it('switches atomically under load: in-flight requests finish, old upstreams drained, zero failures', async () => {
    const a = await upstream('a', 30)
    const b = await upstream('b')
    proxy = await startEntryProxy({ port: 0, upstreams: [a.origin] })
    let instance: autocannon.Instance | undefined
    const done = new Promise<autocannon.Result>((resolve, reject) => {
      instance = autocannon(
        { url: `http://127.0.0.1:${proxy!.port}/`, connections: 10, duration: 30 },
        (e, r) => (e ? reject(e) : resolve(r)),
      )
    })
    await new Promise((r) => setTimeout(r, 500))
    const { drained } = await proxy.switchUpstreams([b.origin])
    expect(drained).toBe(true)
    // Drained: stopping the old upstream now cannot fail a request.
    await new Promise((r) => a.server.close(r))
    await new Promise((r) => setTimeout(r, 500))
    instance!.stop()
    const result = await done
    expect(result.errors).toBe(0)
    expect(result.non2xx).toBe(0)
    expect(await get()).toEqual({ status: 200, body: 'b' })
    expect(proxy.stats.failed).toBe(0)
  })
})
