import type { FakeGraphOptions } from './server.js'

/** The fake's options from its environment (README.md "Configuration"). */
export function fakeGraphOptionsFromEnv(env: NodeJS.ProcessEnv): FakeGraphOptions {
  return {
    port: Number(env.FAKE_GRAPH_PORT ?? 4004),
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
    // Deployed fakes (local target, staging) receive no inbound traffic of their own: users' messages reach the
    // service as signed webhooks posted to it directly, as Meta posts them, so such a fake cannot know a window.
    // The service enforces the 24-hour window itself, at accept and again at send.
    ...(env.FAKE_GRAPH_ENFORCE_SERVICE_WINDOW === 'false' ? { enforceServiceWindow: false } : {}),
    logger: env.FAKE_GRAPH_LOG === '1',
  }
}
