import { createServer, type IncomingHttpHeaders } from 'node:http'

export interface CustomerRequest {
  headers: IncomingHttpHeaders
  body: string
  at: number
}

/** A customer's webhook endpoint: records every request; answers `failWith` statuses first. */
export async function startCustomerReceiver() {
  const requests: CustomerRequest[] = []
  const failWith: number[] = []
  let alwaysFail = false
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() })
      const status = alwaysFail ? 500 : (failWith.shift() ?? 204)
      res.statusCode = status
      res.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    requests,
    failWith,
    setAlwaysFail(value: boolean) {
      alwaysFail = value
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
