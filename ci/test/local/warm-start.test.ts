import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { warmUp } from '../../src/local/warm-start.js'

// A replica is ready only once warm: it answers its hot paths fast, not merely once.

let server: Server | undefined
afterEach(() => server?.close())

/** A server whose first `slow` answers take `delayMs` (a process still compiling), the rest none. */
async function startServer(slow: number, delayMs: number): Promise<{ origin: string; served: () => number }> {
  let served = 0
  server = createServer((_request, response) => {
    served += 1
    setTimeout(() => response.end('ok'), served <= slow ? delayMs : 0)
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, served: () => served }
}

describe('warmUp', () => {
  it('keeps warming past the fixed rounds while answers are slow, until one round is fast', async () => {
    const { origin, served } = await startServer(12, 120)
    const result = await warmUp(origin, [{ path: '/a' }], {
      rounds: 4,
      parallel: 1,
      settledMs: 60,
      maxExtraRounds: 50,
    })
    expect(result.settled).toBe(true)
    // The 4 fixed rounds met slow answers only; warming went on until the slow ones were past.
    expect(served()).toBeGreaterThan(12)
  })

  it('gives up after the cap of extra rounds and says the replica is not settled', async () => {
    const { origin, served } = await startServer(1_000, 80)
    const result = await warmUp(origin, [{ path: '/a' }], {
      rounds: 2,
      parallel: 1,
      settledMs: 40,
      maxExtraRounds: 3,
    })
    expect(result.settled).toBe(false)
    expect(served()).toBe(5)
  })
})
