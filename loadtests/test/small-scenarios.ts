import { SCENARIOS, type Scenario, type ScenarioName } from '../k6/scenarios.js'

/**
 * The real scenarios scaled down to a couple of seconds at a low rate, with limits wide enough that a healthy
 * stand-in passes on a busy machine; the breach tests make the stand-in miss them by far.
 */
export function smallScenarios(
  thresholds: Partial<Scenario['thresholds']> = {},
): Record<ScenarioName, Scenario> {
  const shrink = (scenario: Scenario): Scenario => ({
    ...scenario,
    ratePerSecond: 40,
    durationS: 2,
    vus: 30,
    maxVus: 30,
    requestTimeoutS: 5,
    // Wide enough for a healthy stand-in on a machine busy with other work.
    thresholds: { p95Ms: 1500, maxErrorRate: 0.05, minRequestsPerSecond: 5, ...thresholds },
  })
  return {
    'webhook-ingest': shrink(SCENARIOS['webhook-ingest']),
    'message-send': shrink(SCENARIOS['message-send']),
    'read-api': shrink(SCENARIOS['read-api']),
  }
}
