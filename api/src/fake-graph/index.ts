export type { FaultRule } from './faults.js'
export type { RecordedRequest } from './request-log.js'
export {
  buildFakeGraph,
  createFakeGraph,
  DEFAULT_WABA_ID,
  type FakeGraph,
  type FakeGraphOptions,
} from './server.js'
export type { StatusWebhookConfig } from './webhook-emitter.js'
