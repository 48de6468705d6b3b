import { freePort } from '@whatsapp-saas/local-services'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createFakeGraph, type FakeGraph } from '../../src/fake-graph/index.js'
import { GraphClient } from '../../src/messaging/graph-client.js'
import { classifyGraphError } from '../../src/messaging/graph-error-class.js'

let fake: FakeGraph
let client: GraphClient
const template = {
  messaging_product: 'whatsapp',
  to: '4915100000001',
  type: 'template',
  template: { name: 'hello_world', language: { code: 'en_US' } },
}

beforeAll(async () => {
  fake = await createFakeGraph({ accessToken: 'token-1' })
  client = new GraphClient({ baseUrl: fake.url, version: 'v23.0', timeoutMs: 500 })
})
afterAll(async () => {
  await client.close()
  await fake.close()
})
afterEach(() => fake.state.reset())

describe('classifyGraphError', () => {
  it.each([
    [130429, 429, 'throttle-number'],
    [131048, 400, 'throttle-number'],
    [131056, 400, 'throttle-pair'],
    [4, 400, 'throttle-app'],
    [80007, 400, 'throttle-app'],
    [131000, 500, 'transient'],
    [undefined, 503, 'transient'],
    [190, 401, 'auth'],
    [131050, 400, 'opt-out'],
    [131047, 400, 'terminal'],
    [131026, 400, 'terminal'],
    [131049, 400, 'terminal'],
    [132001, 400, 'terminal'],
    [100, 400, 'terminal'],
  ] as const)('code %s (HTTP %s) is %s', (code, status, expected) => {
    expect(classifyGraphError(code, status)).toBe(expected)
  })
})

describe('GraphClient.sendMessage', () => {
  it('answers a token undici cannot send as an invalid token, and stays usable for other numbers', async () => {
    const small = new GraphClient({ baseUrl: fake.url, version: 'v23.0', timeoutMs: 500, connections: 2 })
    try {
      // More refusals than the pool has connections: each one used to leave a connection busy for good.
      for (let i = 0; i < 4; i++)
        expect(await small.sendMessage('111', 'token\u0003-1', template)).toMatchObject({
          kind: 'error',
          errorClass: 'auth',
        })
      const outcome = await Promise.race([
        small.sendMessage('111', 'token-1', template),
        new Promise((resolve) => setTimeout(() => resolve({ kind: 'wedged' }), 5_000)),
      ])
      expect(outcome).toMatchObject({ kind: 'accepted' })
    } finally {
      await small.close()
    }
  })

  it('returns the wamid of an accepted send', async () => {
    const outcome = await client.sendMessage('111', 'token-1', template)
    expect(outcome).toMatchObject({ kind: 'accepted', wamid: expect.stringMatching(/^wamid\./) })
  })

  it('returns Meta’s code, title and class for an error', async () => {
    fake.state.faults.add({ response: { code: 131026, details: 'recipient cannot be reached' } })
    const outcome = await client.sendMessage('111', 'token-1', template)
    expect(outcome).toEqual({
      kind: 'error',
      errorClass: 'terminal',
      httpStatus: 400,
      code: 131026,
      title: 'Message undeliverable',
      details: 'recipient cannot be reached',
    })
    const auth = await client.sendMessage('111', 'wrong-token', template)
    expect(auth).toMatchObject({ kind: 'error', errorClass: 'auth', code: 190, httpStatus: 401 })
  })

  it('calls a dropped connection after the request ambiguous', async () => {
    fake.state.faults.add({ dropConnectionAfterRequest: true })
    expect(await client.sendMessage('111', 'token-1', template)).toMatchObject({ kind: 'ambiguous' })
    expect(fake.state.requests.list()).toHaveLength(1)
  })

  it('calls a timeout waiting for the answer ambiguous', async () => {
    fake.state.faults.add({ latencyMs: 1500 })
    expect(await client.sendMessage('111', 'token-1', template)).toMatchObject({ kind: 'ambiguous' })
  })

  it('calls a refused connection not-sent', async () => {
    const closed = new GraphClient({
      baseUrl: `http://127.0.0.1:${await freePort()}`,
      version: 'v23.0',
      timeoutMs: 500,
    })
    try {
      expect(await closed.sendMessage('111', 'token-1', template)).toMatchObject({ kind: 'not-sent' })
    } finally {
      await closed.close()
    }
  })
})

describe('GraphClient.listTemplates', () => {
  it('follows paging to the end', async () => {
    for (let i = 0; i < 130; i++) fake.state.upsertTemplate('waba-9', { name: `t${i}`, language: 'en' })
    const templates = await client.listTemplates('waba-9', 'token-1')
    expect(templates).toHaveLength(130)
    expect(new Set(templates.map((t) => t.name)).size).toBe(130)
  })

  it('throws with Meta’s code on an error', async () => {
    await expect(client.listTemplates('waba-9', 'bad')).rejects.toMatchObject({ code: 190, httpStatus: 401 })
  })
})
