import closeWithGrace from 'close-with-grace'
import { inboundWebhookProcessor } from './inbound/processor.js'
import { maintenanceProcessor } from './maintenance/retention.js'
import { outboundProcessor, webhookDeliveryProcessor } from './messaging/queue-processors.js'
import { loadConfigOrExit, startOrExit } from './process-start.js'
import type { QueueProcessor } from './worker-context.js'
import { startWorkers } from './worker-runtime.js'

// ─── Queue processors ───────────────────────────────────────────────────────────────────────────
// Every BullMQ queue this worker process consumes. Add a processor with one line here.
// biome-ignore format: one processor per line keeps additions one-line edits
const QUEUE_PROCESSORS: QueueProcessor[] = [
  inboundWebhookProcessor,
  outboundProcessor,
  webhookDeliveryProcessor,
  maintenanceProcessor,
]
// ────────────────────────────────────────────────────────────────────────────────────────────────

// Worker entry point: `node dist/worker.js` (or `tsx src/worker.ts`).
const config = loadConfigOrExit()
const running = await startOrExit(startWorkers(config, QUEUE_PROCESSORS))

// On SIGTERM: stop taking jobs, let running jobs finish within SHUTDOWN_TIMEOUT_MS, close pools, exit 0.
closeWithGrace({ delay: config.shutdownTimeoutMs, logger: running.context.log }, async ({ signal, err }) => {
  if (err) running.context.log.error({ err }, 'shutting down after an unexpected error')
  else running.context.log.info({ signal }, 'shutting down')
  await running.close()
})
