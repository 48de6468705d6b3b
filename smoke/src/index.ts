export {
  isLoopbackUrl,
  redactTargetEnv,
  resolveTargetEnv,
  type TargetEnv,
} from '@whatsapp-saas/service-client/target-env'
export { formatCheckLine, formatSummaryLine } from './report-format.js'
export {
  runSmoke,
  SMOKE_CHECKS,
  type SmokeCheckResult,
  type SmokeOptions,
  type SmokeReport,
} from './run-smoke.js'
export type { CheckStatus, CheckVerdict, SmokeCheck, SmokeContext } from './smoke-check.js'
