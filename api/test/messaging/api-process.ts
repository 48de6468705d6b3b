// One API process with its outbound and inbound workers, as a replica runs (spawned by
// api-process-spawn.ts): inbound processing stores the status webhooks the fake Graph API sends.
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { inboundWebhookProcessor } from '../../src/inbound/processor.js'
import { outboundProcessor } from '../../src/messaging/queue-processors.js'
import { startWorkers } from '../../src/worker-runtime.js'

const config = loadConfig()
const app = await buildApp(config)
await app.listen({ port: 0, host: '127.0.0.1' })
const workers = await startWorkers(config, [outboundProcessor, inboundWebhookProcessor])
const address = app.server.address()
process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`)

process.once('SIGTERM', () => {
  void Promise.allSettled([workers.close(), app.close()]).then(() => process.exit(0))
})
