import closeWithGrace from 'close-with-grace'
import { createFakeGraph } from './server.js'

// Start command of the fake WhatsApp Graph API (local deploy target, smoke and load runs).
const env = process.env
const port = Number(env.FAKE_GRAPH_PORT ?? 4004)
const fake = await createFakeGraph({
  port,
  host: env.FAKE_GRAPH_HOST ?? '127.0.0.1',
  ...(env.FAKE_GRAPH_WEBHOOK_URL ? { webhookUrl: env.FAKE_GRAPH_WEBHOOK_URL } : {}),
  ...(env.META_APP_SECRET ? { appSecret: env.META_APP_SECRET } : {}),
  ...(env.FAKE_GRAPH_ACCESS_TOKEN ? { accessToken: env.FAKE_GRAPH_ACCESS_TOKEN } : {}),
  ...(env.FAKE_GRAPH_SEED ? { seed: env.FAKE_GRAPH_SEED } : {}),
  ...(env.FAKE_GRAPH_WABA_ID ? { defaultWabaId: env.FAKE_GRAPH_WABA_ID } : {}),
  ...(env.FAKE_GRAPH_MAX_RECORDED ? { maxRecorded: Number(env.FAKE_GRAPH_MAX_RECORDED) } : {}),
  ...(env.FAKE_GRAPH_THROUGHPUT_MPS
    ? { limits: { throughputMps: Number(env.FAKE_GRAPH_THROUGHPUT_MPS) } }
    : {}),
  logger: env.FAKE_GRAPH_LOG === '1',
})
process.stdout.write(`fake graph api listening on ${fake.url}\n`)

closeWithGrace({ delay: 5000 }, async () => {
  await fake.close()
})
