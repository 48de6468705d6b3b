import closeWithGrace from 'close-with-grace'
import { fakeGraphOptionsFromEnv } from './env-options.js'
import { createFakeGraph } from './server.js'

// Start command of the fake WhatsApp Graph API (local deploy target, smoke and load runs).
const fake = await createFakeGraph(fakeGraphOptionsFromEnv(process.env))
process.stdout.write(`fake graph api listening on ${fake.url}\n`)

closeWithGrace({ delay: 5000 }, async () => {
  await fake.close()
})
