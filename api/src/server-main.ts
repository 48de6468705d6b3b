import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { loadConfigOrExit, startOrExit } from './process-start.js'
import { shutdownGracefully } from './shutdown.js'

// The HTTP API, imported by server.ts once the compile cache is on.
const config = loadConfigOrExit()
const app = await startOrExit(buildApp(config))

// On SIGTERM/SIGINT: readiness answers 503 at once, the listener closes, in-flight requests finish,
// then the pools close and the process exits 0; after SHUTDOWN_TIMEOUT_MS it exits 1 regardless.
closeWithGrace({ delay: config.shutdownTimeoutMs, logger: app.log }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'shutting down after an unexpected error')
  else app.log.info({ signal }, 'shutting down')
  await shutdownGracefully(app)
})

await app.listen({ host: config.host, port: config.port })
