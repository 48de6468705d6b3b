import { type RedisServer, startRedis } from '@whatsapp-saas/local-services'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SendRateLimiter } from '../../src/messaging/send-rate-limiter.js'

let server: RedisServer
const clients: Redis[] = []

function limiter(overrides: Partial<ConstructorParameters<typeof SendRateLimiter>[1]> = {}) {
  const client = new Redis(server.url, server.clientOptions)
  clients.push(client)
  return new SendRateLimiter(client, {
    pairIntervalMs: 6000,
    pairBurst: 45,
    maxReserveMs: 1000,
    utilization: 1,
    ...overrides,
  })
}

beforeAll(async () => {
  server = await startRedis()
})
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit()))
  await server.stop()
})

describe('SendRateLimiter (GCRA in Redis)', () => {
  it('spaces the slots of one number evenly across two independent connections', async () => {
    const a = limiter()
    const b = limiter()
    const slots = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).acquire('pn-even', `user${i}`, 100)),
    )
    expect(slots.every((s) => s.reserved)).toBe(true)
    const at = slots.map((s) => s.decidedAtMs + s.waitMs).sort((x, y) => x - y)
    // 100 mps → one slot per 10 ms, whichever process asked (± ms rounding).
    for (let i = 1; i < at.length; i++) {
      expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(8)
      expect(at[i]! - at[i - 1]!).toBeLessThanOrEqual(12)
    }
  })

  it('never grants a slot nearer than the lead asked for, and spaces the next ones from it', async () => {
    const l = limiter()
    // An idle number: without a lead the slot would be "now", already past when a busy caller gets it.
    const [first, second] = await l.acquireMany(
      [
        { phoneNumberId: 'pn-lead', recipient: 'u1', throughputMps: 100 },
        { phoneNumberId: 'pn-lead', recipient: 'u2', throughputMps: 100 },
      ],
      40,
    )
    expect(first).toMatchObject({ reserved: true })
    expect(first!.waitMs).toBeGreaterThanOrEqual(40)
    const gap = second!.decidedAtMs + second!.waitMs - (first!.decidedAtMs + first!.waitMs)
    expect(gap).toBeGreaterThanOrEqual(9)
    expect(gap).toBeLessThanOrEqual(11)
  })

  it('reserves nothing beyond maxReserveMs and reports the wait instead', async () => {
    const l = limiter({ maxReserveMs: 50 })
    // Sent together (one pipelined connection), so they are decided within a few ms of each other.
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => l.acquire('pn-reserve', `u${i}`, 100)),
    )
    const reserved = results.filter((r) => r.reserved)
    // Only slots within 50 ms of the asking moment are reserved; later ones are refused with their wait.
    expect(reserved.length).toBeGreaterThanOrEqual(5)
    expect(reserved.every((r) => r.waitMs <= 50)).toBe(true)
    const refused = results.filter((r) => !r.reserved)
    expect(refused.every((r) => r.waitMs > 50)).toBe(true)
    // A refusal takes nothing: the next slot is still the first free one.
    const again = await l.acquire('pn-reserve', 'other', 100)
    expect(again.waitMs).toBeLessThanOrEqual(refused[0]!.waitMs + 3)
  })

  it('lets a pair burst, then holds it to one message per interval', async () => {
    const l = limiter({ pairBurst: 3, pairIntervalMs: 6000 })
    const slots = []
    for (let i = 0; i < 4; i++) slots.push(await l.acquire('pn-pair', 'same-user', 1000))
    expect(slots.slice(0, 3).every((s) => s.reserved && s.waitMs <= 5)).toBe(true)
    expect(slots[3]).toMatchObject({ reserved: false })
    expect(slots[3]!.waitMs).toBeGreaterThan(5900)
    expect(slots[3]!.waitMs).toBeLessThanOrEqual(6000)
    // Another user of the same number is not affected.
    expect(await l.acquire('pn-pair', 'other-user', 1000)).toMatchObject({ reserved: true })
  })

  it('holds every send of a paused number and backs a pair off', async () => {
    const l = limiter()
    await l.pauseNumber('pn-paused', 2000)
    const paused = await l.acquire('pn-paused', 'u', 80)
    expect(paused.reserved).toBe(false)
    expect(paused.waitMs).toBeGreaterThan(1900)
    await l.backOffPair('pn-backoff', 'u', 4000)
    const backedOff = await l.acquire('pn-backoff', 'u', 80)
    expect(backedOff.reserved).toBe(false)
    expect(backedOff.waitMs).toBeGreaterThan(3900)
    expect(backedOff.waitMs).toBeLessThanOrEqual(4000)
  })
})
