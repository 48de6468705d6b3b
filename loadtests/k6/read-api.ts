// k6 run loadtests/k6/read-api.ts   env: BASE_URL, API_KEY
// Runs this scenario alone; load.ts runs it beside the others.
import { k6Inputs, k6Options } from './k6-options.ts'
import { getRead } from './requests.ts'
import { SCENARIOS } from './scenarios.ts'

const scenarios = [SCENARIOS['read-api']]
export const options = k6Options(scenarios, __ENV)
const inputs = k6Inputs(__ENV, scenarios)

export function readApi(): void {
  getRead(inputs)
}
