// One request of each scenario, and message-send's setup, as k6 makes them. Shared by the scripts that run a
// scenario alone (webhook-ingest.ts, message-send.ts, read-api.ts) and by load.ts, which runs them together.
import { check, sleep } from 'k6'
import crypto from 'k6/crypto'
import exec from 'k6/execution'
import http from 'k6/http'
import type { K6Inputs } from './k6-options.ts'
import {
  inboundWebhookBody,
  loadRecipient,
  loadSender,
  READ_PATHS,
  textMessageBody,
  webhookPhoneNumberId,
  windowOpeningBody,
} from './payloads.ts'
import {
  MESSAGE_SEND_RECIPIENTS,
  SCENARIOS,
  WEBHOOK_SENDERS,
  WINDOW_OPEN_WAIT_S,
  WINDOW_PROBE_INTERVAL_S,
} from './scenarios.ts'

const webhookScenario = SCENARIOS['webhook-ingest']
const sendScenario = SCENARIOS['message-send']
const readScenario = SCENARIOS['read-api']

function signedWebhookHeaders(inputs: K6Inputs, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-hub-signature-256': `sha256=${crypto.hmac('sha256', inputs.appSecret, body, 'hex')}`,
  }
}

const withKey = (inputs: K6Inputs) => ({
  'content-type': 'application/json',
  authorization: `Bearer ${inputs.apiKey}`,
})

/**
 * message-send's setup: every recipient messages in first (a signed inbound webhook to the service, as Meta
 * sends it); then wait (bounded) until the last one's window is open on the service. Aborts the test otherwise.
 */
export function openWindows(inputs: K6Inputs): void {
  const phoneNumberId = inputs.phoneNumberId!
  const nonce = String(Date.now())
  for (let index = 0; index < MESSAGE_SEND_RECIPIENTS; index++) {
    const body = windowOpeningBody(phoneNumberId, loadRecipient(index), nonce)
    const inbound = http.post(`${inputs.baseUrl}/webhooks/whatsapp`, body, {
      headers: signedWebhookHeaders(inputs, body),
      timeout: '5s',
    })
    if (inbound.status !== 200) exec.test.abort(`inbound webhook answered ${inbound.status}`)
  }
  const probe = textMessageBody(
    phoneNumberId,
    loadRecipient(MESSAGE_SEND_RECIPIENTS - 1),
    'load window probe',
  )
  const attempts = Math.ceil(WINDOW_OPEN_WAIT_S / WINDOW_PROBE_INTERVAL_S)
  for (let attempt = 0; attempt < attempts; attempt++) {
    const sent = http.post(`${inputs.baseUrl}/api/v1/messages`, probe, {
      headers: withKey(inputs),
      timeout: '5s',
      // A closed window (422) is expected while the inbound messages are processed.
      responseCallback: http.expectedStatuses(sendScenario.expectedStatus, 422),
    })
    if (sent.status === sendScenario.expectedStatus) return
    if (sent.status !== 422) exec.test.abort(`window probe send answered ${sent.status}`)
    sleep(WINDOW_PROBE_INTERVAL_S)
  }
  exec.test.abort(`24-hour windows still closed after ${WINDOW_OPEN_WAIT_S} s`)
}

/** One signed Meta webhook with a unique wamid (webhook-ingest). */
export function postWebhook(inputs: K6Inputs): void {
  const iteration = exec.scenario.iterationInTest
  const body = inboundWebhookBody({
    phoneNumberId: webhookPhoneNumberId(inputs),
    from: loadSender(iteration % WEBHOOK_SENDERS),
    wamid: `wamid.load${exec.vu.idInTest}x${iteration}x${Date.now()}`,
    text: `load ${iteration}`,
  })
  const response = http.post(`${inputs.baseUrl}/webhooks/whatsapp`, body, {
    headers: signedWebhookHeaders(inputs, body),
    timeout: `${webhookScenario.requestTimeoutS}s`,
    responseCallback: http.expectedStatuses(webhookScenario.expectedStatus),
  })
  check(response, { 'webhook accepted': (r) => r.status === webhookScenario.expectedStatus })
}

/** One text send to a user whose window setup opened (message-send). */
export function postMessage(inputs: K6Inputs): void {
  const iteration = exec.scenario.iterationInTest
  const body = textMessageBody(
    inputs.phoneNumberId!,
    loadRecipient(iteration % MESSAGE_SEND_RECIPIENTS),
    `load ${iteration}`,
  )
  const response = http.post(`${inputs.baseUrl}/api/v1/messages`, body, {
    headers: withKey(inputs),
    timeout: `${sendScenario.requestTimeoutS}s`,
    responseCallback: http.expectedStatuses(sendScenario.expectedStatus),
  })
  check(response, { 'message queued': (r) => r.status === sendScenario.expectedStatus })
}

/** One read of the tenant API, alternating between READ_PATHS (read-api). */
export function getRead(inputs: K6Inputs): void {
  const path = READ_PATHS[exec.scenario.iterationInTest % READ_PATHS.length]
  const response = http.get(`${inputs.baseUrl}${path}`, {
    headers: { authorization: `Bearer ${inputs.apiKey}` },
    timeout: `${readScenario.requestTimeoutS}s`,
    responseCallback: http.expectedStatuses(readScenario.expectedStatus),
  })
  check(response, { 'read answered': (r) => r.status === readScenario.expectedStatus })
}
