import { createServer, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { waitForQueuesToDrain } from '../src/queue-drain.js'

let server: Server | undefined
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())))

const ADMIN = 'admin-token-0123456789'

/**
 * A status endpoint whose queues report `pending[i]` waiting jobs on the i-th call (the last value repeats),
 * shown like the service's only to the admin token: anything else gets the public part, without queues.
 */
async function statusServer(pending: number[], status = 200): Promise<string> {
  let calls = 0
  server = createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${ADMIN}`) {
      res.writeHead(status, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ status: 'ok', version: 'x' }))
    }
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
    expect(await waitForQueuesToDrain(url, 5_000, new AbortController().signal, 10, ADMIN)).toBe('drained')
  })

  it('gives up when the queues stay busy past the bound', async () => {
    const url = await statusServer([40])
    expect(await waitForQueuesToDrain(url, 100, new AbortController().signal, 10, ADMIN)).toBe('still busy')
  })

  it('does not wait for a service without the status endpoint', async () => {
    const url = await statusServer([0], 404)
    expect(await waitForQueuesToDrain(url, 5_000, new AbortController().signal, 10, ADMIN)).toBe('unknown')
  })

  it('sends the admin token, and does not wait without one (queue depths are not public)', async () => {
    const url = await statusServer([40])
    expect(await waitForQueuesToDrain(url, 5_000, new AbortController().signal, 10)).toBe('unknown')
    expect(await waitForQueuesToDrain(url, 5_000, new AbortController().signal, 10, 'wrong')).toBe('unknown')
  })
})
