import { parseArgs } from 'node:util'
import { resolveCliPath, resolveTargetEnv, scriptArguments } from '@whatsapp-saas/service-client/target-env'
import { formatCheckLine, formatSummaryLine } from './report-format.js'
import { runSmoke } from './run-smoke.js'

const USAGE = `usage: npm run smoke -- [--base-url <url> | --env-file <path>] [--expect-version <v>] [--json]
  options: --api-key --admin-token --app-secret --verify-token --phone-number-id
           --request-timeout-ms (5000) --delivery-timeout-ms (20000)
  env:     SMOKE_BASE_URL SMOKE_API_KEY SMOKE_ADMIN_TOKEN SMOKE_APP_SECRET SMOKE_VERIFY_TOKEN
           SMOKE_PHONE_NUMBER_ID SMOKE_EXPECT_VERSION`

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: scriptArguments(),
    options: {
      'base-url': { type: 'string' },
      'env-file': { type: 'string' },
      'expect-version': { type: 'string' },
      'api-key': { type: 'string' },
      'admin-token': { type: 'string' },
      'app-secret': { type: 'string' },
      'verify-token': { type: 'string' },
      'phone-number-id': { type: 'string' },
      'request-timeout-ms': { type: 'string' },
      'delivery-timeout-ms': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(USAGE)
    return 0
  }
  const env = await resolveTargetEnv({
    explicit: {
      baseUrl: values['base-url'],
      apiKey: values['api-key'],
      adminToken: values['admin-token'],
      appSecret: values['app-secret'],
      verifyToken: values['verify-token'],
      phoneNumberId: values['phone-number-id'],
    },
    env: process.env,
    envPrefix: 'SMOKE',
    envFile: values['env-file'] === undefined ? undefined : resolveCliPath(values['env-file']),
  })
  const json = values.json
  const report = await runSmoke({
    env,
    expectVersion: values['expect-version'] ?? (process.env.SMOKE_EXPECT_VERSION || undefined),
    requestTimeoutMs: positiveInteger(values['request-timeout-ms'], 'request-timeout-ms'),
    deliveryTimeoutMs: positiveInteger(values['delivery-timeout-ms'], 'delivery-timeout-ms'),
    onCheck: json ? undefined : (result) => console.log(formatCheckLine(result)),
  })
  console.log(json ? JSON.stringify(report, null, 2) : formatSummaryLine(report))
  return report.passed ? 0 : 1
}

function positiveInteger(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive integer`)
  return parsed
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error(`smoke: ${error instanceof Error ? error.message : String(error)}`)
    console.error(USAGE)
    process.exitCode = 2
  },
)
