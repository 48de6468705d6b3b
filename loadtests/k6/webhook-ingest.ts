// k6 run loadtests/k6/webhook-ingest.ts   env: BASE_URL, APP_SECRET; optional PHONE_NUMBER_ID
// Runs this scenario alone; load.ts runs it beside the others.
import { k6Inputs, k6Options } from './k6-options.ts'
import { postWebhook } from './requests.ts'
import { SCENARIOS } from './scenarios.ts'

const scenarios = [SCENARIOS['webhook-ingest']]
export const options = k6Options(scenarios, __ENV)
const inputs = k6Inputs(__ENV, scenarios)

export function webhookIngest(): void {
  postWebhook(inputs)
}
