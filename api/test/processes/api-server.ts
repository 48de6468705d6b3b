// One API process alone (no worker), as a replica runs; spawned by startApiProcess().
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'

const app = await buildApp(loadConfig())
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`)

process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0))
})
