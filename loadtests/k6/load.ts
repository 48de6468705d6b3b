// k6 run loadtests/k6/load.ts   env: BASE_URL, LOAD_SCENARIOS (comma-separated; default every scenario) and
// what those scenarios need (API_KEY, APP_SECRET, PHONE_NUMBER_ID: see README.md).
// The selected scenarios run at the same time, each at its own rate after its own warm-up, each judged by its
// own scenario-tagged thresholds. What the pipeline's load stage runs when k6 is installed.
import { k6Inputs, k6Options, selectedScenarios } from './k6-options.ts'
import { getRead, openWindows, postMessage, postWebhook } from './requests.ts'

const scenarios = selectedScenarios(__ENV)
export const options = k6Options(scenarios, __ENV)
const inputs = k6Inputs(__ENV, scenarios)

/** message-send's users message in before any scenario starts (k6 runs setup once, before every scenario). */
export function setup(): void {
  if (scenarios.some((scenario) => scenario.name === 'message-send')) openWindows(inputs)
}

// One function per scenario, named by its `exec` in scenarios.ts.
export function webhookIngest(): void {
  postWebhook(inputs)
}

export function messageSend(): void {
  postMessage(inputs)
}

export function readApi(): void {
  getRead(inputs)
}
