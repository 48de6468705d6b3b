import { createServer, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { waitForQueuesToDrain } from '../src/queue-drain.js'

let server: Server | undefined
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())))

/** A status endpoint whose queues report `pending[i]` waiting jobs on the i-th call (the last value repeats). */
async function statusServer(pending: number[], status = 200): Promise<string> {
  let calls = 0
  server = createServer((_req, res) => {
    const waiting = pending[Math.min(calls++, pending.length - 1)]
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ queues: { 'wa-inbound': { waiting, active: 0, delayed: 3 } } }))
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
}

describe('waitForQueuesToDrain', () => {
  it('waits until no job is waiting or active (delayed jobs do not count)', async () => {
    const url = await statusServer([40, 12, 0])
    expect(await waitForQueuesToDrain(url, 5_000, new AbortController().signal, 10)).toBe('drained')
  })

  it('gives up when the queues stay busy past the bound', async () => {
    const url = await statusServer([40])
    expect(await waitForQueuesToDrain(url, 100, new AbortController().signal, 10)).toBe('still busy')
  })

  it('does not wait for a service without the status endpoint', async () => {
    const url = await statusServer([0], 404)
    expect(await waitForQueuesToDrain(url, 5_000, new AbortController().signal, 10)).toBe('unknown')
  })
})
