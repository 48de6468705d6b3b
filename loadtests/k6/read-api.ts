// k6 run loadtests/k6/read-api.ts   env: BASE_URL, API_KEY
import { check } from 'k6'
import exec from 'k6/execution'
import http from 'k6/http'
import { k6Options, requiredEnv } from './k6-options.ts'
import { READ_PATHS } from './payloads.ts'
import { SCENARIOS } from './scenarios.ts'

const scenario = SCENARIOS['read-api']
export const options = k6Options(scenario, __ENV)

const baseUrl = requiredEnv(__ENV, 'BASE_URL')
const apiKey = requiredEnv(__ENV, 'API_KEY')

export default function readApi(): void {
  const path = READ_PATHS[exec.scenario.iterationInTest % READ_PATHS.length]
  const response = http.get(`${baseUrl}${path}`, {
    headers: { authorization: `Bearer ${apiKey}` },
    timeout: `${scenario.requestTimeoutS}s`,
    responseCallback: http.expectedStatuses(scenario.expectedStatus),
  })
  check(response, { 'read answered': (r) => r.status === scenario.expectedStatus })
}
