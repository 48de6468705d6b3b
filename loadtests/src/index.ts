export { SCENARIO_NAMES, SCENARIOS, type Scenario, type ScenarioName } from '../k6/scenarios.js'
export {
  type LoadOutcome,
  type LoadReport,
  type ScenarioOutcome,
  THRESHOLDS_BREACHED_EXIT_CODE,
  TIME_BUDGET_EXCEEDED_EXIT_CODE,
} from './load-outcome.js'
export { formatLoadReport } from './report-format.js'
export { K6_INSTALL_HINT, type LoadOptions, runLoad } from './run-load.js'
export { evaluateThresholds, type ObservedMetrics, percentile } from './thresholds.js'
