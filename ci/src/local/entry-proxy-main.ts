import { startControlServer, startEntryProxy } from './entry-proxy.js'

// The entry proxy as a detached process of the local environment:
// ENTRY_PORT (8080), ENTRY_HOST (127.0.0.1), CONTROL_SOCKET (required), UPSTREAMS (comma-separated, optional).
const socketPath = process.env.CONTROL_SOCKET
if (!socketPath) {
  process.stderr.write('CONTROL_SOCKET is not set\n')
  process.exit(1)
}
const proxy = await startEntryProxy({
  port: Number(process.env.ENTRY_PORT ?? 8080),
  host: process.env.ENTRY_HOST ?? '127.0.0.1',
  upstreams: (process.env.UPSTREAMS ?? '').split(',').filter(Boolean),
})
const control = await startControlServer(proxy, socketPath)
process.stdout.write(`entry proxy on http://127.0.0.1:${proxy.port} (control ${socketPath})\n`)

const shutdown = async () => {
  control.close()
  await proxy.close()
  process.exit(0)
}
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)
