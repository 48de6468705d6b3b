import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { SharedProbe } from '../src/health/probe.js'
import { lazySchemaCompilers } from '../src/http/lazy-schema-compilers.js'

function deferred<T>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

describe('SharedProbe', () => {
  it('answers every request that asks while a probe runs with that one probe', async () => {
    let calls = 0
    const pending = deferred<string>()
    const probe = new SharedProbe(
      () => {
        calls += 1
        return pending.promise
      },
      250,
      () => 0,
    )
    const answers = Promise.all(Array.from({ length: 20 }, () => probe.get()))
    pending.resolve('connected')
    expect(await answers).toEqual(Array(20).fill('connected'))
    expect(calls).toBe(1)
  })

  it('probes again once the answer is maxAgeMs old, counted from when its probe began', async () => {
    let now = 1_000
    let state = 'connected'
    let calls = 0
    const probe = new SharedProbe(
      async () => {
        calls += 1
        return state
      },
      250,
      () => now,
    )
    expect(await probe.get()).toBe('connected')
    state = 'disconnected'
    now += 249
    expect(await probe.get()).toBe('connected')
    now += 1
    expect(await probe.get()).toBe('disconnected')
    expect(calls).toBe(2)
  })

  it('waits for a probe still running past maxAgeMs instead of starting a second one', async () => {
    let now = 0
    let calls = 0
    const slow = deferred<string>()
    const probe = new SharedProbe(
      () => {
        calls += 1
        return calls === 1 ? slow.promise : Promise.resolve('second')
      },
      250,
      () => now,
    )
    const first = probe.get()
    now = 900
    const second = probe.get()
    expect(calls).toBe(1)
    slow.resolve('first')
    expect(await Promise.all([first, second])).toEqual(['first', 'first'])
    now = 1_200
    expect(await probe.get()).toBe('second')
  })
})

describe('lazySchemaCompilers', () => {
  it("validates bodies with the server's ajv options and serializes responses as the default compilers do", async () => {
    const app = Fastify({
      schemaController: { compilersFactory: lazySchemaCompilers },
      // Not Fastify's default (it strips unknown properties): proves the server's options reach ajv.
      ajv: { customOptions: { removeAdditional: false } },
    })
    app.post(
      '/echo',
      {
        schema: {
          body: {
            type: 'object',
            required: ['n'],
            properties: { n: { type: 'integer', minimum: 1 } },
            additionalProperties: false,
          },
          response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
        },
      },
      async (request) => ({ ...(request.body as object), secret: 'not in the schema' }),
    )
    try {
      for (let i = 0; i < 2; i++) {
        const bad = await app.inject({ method: 'POST', url: '/echo', payload: { n: 0 } })
        expect(bad.statusCode).toBe(400)
        expect(bad.json().message).toContain('must be >= 1')
        const good = await app.inject({ method: 'POST', url: '/echo', payload: { n: 3 } })
        expect(good.statusCode).toBe(200)
        expect(good.json()).toEqual({ n: 3 })
      }
      const extra = await app.inject({ method: 'POST', url: '/echo', payload: { n: 3, x: 1 } })
      expect(extra.statusCode).toBe(400)
    } finally {
      await app.close()
    }
  })
})
