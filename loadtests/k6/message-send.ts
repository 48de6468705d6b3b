// k6 run loadtests/k6/message-send.ts   env: BASE_URL, API_KEY, PHONE_NUMBER_ID, APP_SECRET
// PHONE_NUMBER_ID must be a number whose Graph API is a fake one (the synthetic tenant's on AWS, the demo
// number locally), so this never messages a real person; the recipients are fictional 1555 numbers.
import { check, sleep } from 'k6'
import crypto from 'k6/crypto'
import exec from 'k6/execution'
import http from 'k6/http'
import { k6Options, requiredEnv } from './k6-options.ts'
import { loadRecipient, textMessageBody, windowOpeningBody } from './payloads.ts'
import {
  MESSAGE_SEND_RECIPIENTS,
  SCENARIOS,
  WINDOW_OPEN_WAIT_S,
  WINDOW_PROBE_INTERVAL_S,
} from './scenarios.ts'

const scenario = SCENARIOS['message-send']
export const options = k6Options(scenario, __ENV)

const baseUrl = requiredEnv(__ENV, 'BASE_URL')
const apiKey = requiredEnv(__ENV, 'API_KEY')
const phoneNumberId = requiredEnv(__ENV, 'PHONE_NUMBER_ID')
const appSecret = requiredEnv(__ENV, 'APP_SECRET')
const jsonWithKey = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` }

/**
 * Every recipient messages in first (a signed inbound webhook to the service, as Meta sends it); then wait
 * (bounded) until the last one's window is open on the service.
 */
export function setup(): void {
  const nonce = String(Date.now())
  // All at once, as Meta delivers them: k6 sends a batch in parallel.
  const inbound = http.batch(
    Array.from({ length: MESSAGE_SEND_RECIPIENTS }, (_, index) => {
      const body = windowOpeningBody(phoneNumberId, loadRecipient(index), nonce)
      return {
        method: 'POST',
        url: `${baseUrl}/webhooks/whatsapp`,
        body,
        params: {
          headers: {
            'content-type': 'application/json',
            'x-hub-signature-256': `sha256=${crypto.hmac('sha256', appSecret, body, 'hex')}`,
          },
          timeout: '5s',
        },
      }
    }),
  )
  const refused = inbound.find((response) => response.status !== 200)
  if (refused) exec.test.abort(`inbound webhook answered ${refused.status}`)
  const probe = textMessageBody(
    phoneNumberId,
    loadRecipient(MESSAGE_SEND_RECIPIENTS - 1),
    'load window probe',
  )
  for (let attempt = 0; attempt < WINDOW_OPEN_WAIT_S / WINDOW_PROBE_INTERVAL_S; attempt++) {
    const sent = http.post(`${baseUrl}/api/v1/messages`, probe, {
      headers: jsonWithKey,
      timeout: '5s',
      // A closed window (422) is expected while the inbound messages are processed.
      responseCallback: http.expectedStatuses(scenario.expectedStatus, 422),
    })
    if (sent.status === scenario.expectedStatus) return
    if (sent.status !== 422) exec.test.abort(`window probe send answered ${sent.status}`)
    sleep(WINDOW_PROBE_INTERVAL_S)
  }
  exec.test.abort(`24-hour windows still closed after ${WINDOW_OPEN_WAIT_S} s`)
}

export default function messageSend(): void {
  const iteration = exec.scenario.iterationInTest
  const body = textMessageBody(
    phoneNumberId,
    loadRecipient(iteration % MESSAGE_SEND_RECIPIENTS),
    `load ${iteration}`,
  )
  const response = http.post(`${baseUrl}/api/v1/messages`, body, {
    headers: jsonWithKey,
    timeout: `${scenario.requestTimeoutS}s`,
    responseCallback: http.expectedStatuses(scenario.expectedStatus),
  })
  check(response, { 'message queued': (r) => r.status === scenario.expectedStatus })
}
