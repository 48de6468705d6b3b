// k6 run loadtests/k6/message-send.ts   env: BASE_URL, API_KEY, PHONE_NUMBER_ID, APP_SECRET
// PHONE_NUMBER_ID must be a number whose Graph API is a fake one (the synthetic tenant's on AWS, the demo
// number locally), so this never messages a real person; the recipients are fictional 1555 numbers.
// Runs this scenario alone; load.ts runs it beside the others.
import { k6Inputs, k6Options } from './k6-options.ts'
import { openWindows, postMessage } from './requests.ts'
import { SCENARIOS } from './scenarios.ts'

const scenarios = [SCENARIOS['message-send']]
export const options = k6Options(scenarios, __ENV)
const inputs = k6Inputs(__ENV, scenarios)

export function setup(): void {
  openWindows(inputs)
}

export function messageSend(): void {
  postMessage(inputs)
}
