import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FakeGraph } from '../../src/fake-graph/index.js'
import type { TestApp, TestTenant } from '../harness/index.js'
import { startProcessFleet } from './api-process-spawn.js'
import { waitFor } from './fixtures.js'
import { maxInRollingWindow } from './rate-window.js'

const LIMIT_MPS = 20
const PER_NUMBER = 50
let fleet: Awaited<ReturnType<typeof startProcessFleet>>
let fake: FakeGraph
let t: TestApp
let tenant: TestTenant
let ports: number[] = []

async function post(port: number, body: unknown, idempotencyKey?: string) {
  const response = await request(`http://127.0.0.1:${port}/api/v1/messages`, {
    method: 'POST',
    headers: {
      ...tenant.headers,
      'content-type': 'application/json',
      ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
    },
    body: JSON.stringify(body),
  })
  return { status: response.statusCode, body: (await response.body.json()) as { id: string } }
}

beforeAll(async () => {
  fleet = await startProcessFleet({
    numbers: ['5000001', '5000002'],
    limitMps: LIMIT_MPS,
    count: 2,
    // Arrivals are timed by the fake inside this (busy) test process, whose own event-loop stalls
    // bunch them up: a wider margin than the default keeps that noise out of the cross-process
    // bound under test. Without a shared limit two processes would send twice the rate.
    env: { OUTBOUND_RATE_UTILIZATION_PERCENT: '90' },
  })
  ;({ fake, t, tenant } = fleet)
  ports = fleet.processes.map((p) => p.port)
}, 120_000)
afterAll(async () => {
  await fleet?.close()
})

describe('two API processes with workers on one Redis', () => {
  it('send every message exactly once and hold the per-number limit across processes', async () => {
    const template = { type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } }
    const jobs: Array<() => ReturnType<typeof post>> = []
    for (const phoneNumberId of ['5000001', '5000002'])
      for (let i = 0; i < PER_NUMBER; i++) {
        const body = {
          phoneNumberId,
          to: `4915400${phoneNumberId.slice(-1)}${String(i).padStart(4, '0')}`,
          ...template,
        }
        const key = `${phoneNumberId}-${i}`
        // The same request reaches both processes at once (a client retry through the load balancer).
        jobs.push(() => post(ports[0]!, body, key))
        jobs.push(() => post(ports[1]!, body, key))
      }
    // A client with a bounded number of requests in flight.
    const answers: Array<Awaited<ReturnType<typeof post>>> = []
    let next = 0
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < jobs.length) {
          const job = jobs[next++]!
          answers.push(await job())
        }
      }),
    )
    expect(answers.filter((a) => a.status !== 202 && a.status !== 200)).toEqual([])
    const ids = new Set(answers.map((a) => a.body.id))
    expect(ids.size).toBe(2 * PER_NUMBER)

    await waitFor(
      () => t.prisma.message.count({ where: { organizationId: tenant.organizationId, status: 'SENT' } }),
      (n) => n === 2 * PER_NUMBER,
      60_000,
    )
    const calls = fake.state.requests.list({ path: '/messages' })
    expect(calls).toHaveLength(2 * PER_NUMBER)
    expect(new Set(calls.map((c) => c.callbackData))).toEqual(ids)
    for (const phoneNumberId of ['5000001', '5000002']) {
      const times = calls.filter((c) => c.phoneNumberId === phoneNumberId).map((c) => c.at)
      expect(times).toHaveLength(PER_NUMBER)
      expect(maxInRollingWindow(times)).toBeLessThanOrEqual(LIMIT_MPS)
    }
  }, 120_000)
})
