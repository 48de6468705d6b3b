// k6 run loadtests/k6/webhook-ingest.ts   env: BASE_URL, APP_SECRET; optional PHONE_NUMBER_ID
import { check } from 'k6'
import crypto from 'k6/crypto'
import exec from 'k6/execution'
import http from 'k6/http'
import { k6Options, requiredEnv } from './k6-options.ts'
import { inboundWebhookBody, loadSender, webhookPhoneNumberId } from './payloads.ts'
import { SCENARIOS, WEBHOOK_SENDERS } from './scenarios.ts'

const scenario = SCENARIOS['webhook-ingest']
export const options = k6Options(scenario, __ENV)

const baseUrl = requiredEnv(__ENV, 'BASE_URL')
const appSecret = requiredEnv(__ENV, 'APP_SECRET')
const phoneNumberId = webhookPhoneNumberId({ phoneNumberId: __ENV.PHONE_NUMBER_ID })

export default function webhookIngest(): void {
  const iteration = exec.scenario.iterationInTest
  const body = inboundWebhookBody({
    phoneNumberId,
    from: loadSender(iteration % WEBHOOK_SENDERS),
    wamid: `wamid.load${exec.vu.idInTest}x${iteration}x${Date.now()}`,
    text: `load ${iteration}`,
  })
  const response = http.post(`${baseUrl}/webhooks/whatsapp`, body, {
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': `sha256=${crypto.hmac('sha256', appSecret, body, 'hex')}`,
    },
    timeout: `${scenario.requestTimeoutS}s`,
    responseCallback: http.expectedStatuses(scenario.expectedStatus),
  })
  check(response, { 'webhook accepted': (r) => r.status === scenario.expectedStatus })
}
