import { parseArgs } from 'node:util'
import { resolveCliPath, resolveTargetEnv, scriptArguments } from '@whatsapp-saas/service-client/target-env'
import { SCENARIO_NAMES, type ScenarioName } from '../k6/scenarios.js'
import { formatLoadReport } from './report-format.js'
import { runLoad } from './run-load.js'

const USAGE = `usage: npm run load -- [--base-url <url> | --env-file <path>] [--scenario <name>]... [--max-duration <s>]
                     [--runner auto|k6|autocannon] [--allow-remote] [--json]
  scenarios: ${SCENARIO_NAMES.join(', ')} (default: all)
  options:   --api-key --app-secret --phone-number-id; --max-duration default 120
  env:       LOAD_BASE_URL LOAD_API_KEY LOAD_APP_SECRET LOAD_PHONE_NUMBER_ID LOAD_ADMIN_TOKEN LOAD_ALLOW_REMOTE=1`

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: scriptArguments(),
    options: {
      'base-url': { type: 'string' },
      'env-file': { type: 'string' },
      'api-key': { type: 'string' },
      'app-secret': { type: 'string' },
      'phone-number-id': { type: 'string' },
      scenario: { type: 'string', multiple: true },
      'max-duration': { type: 'string', default: '120' },
      runner: { type: 'string', default: 'auto' },
      'allow-remote': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(USAGE)
    return 0
  }
  const runner = values.runner
  if (runner !== 'auto' && runner !== 'k6' && runner !== 'autocannon')
    throw new Error(`unknown runner ${runner}`)
  const env = await resolveTargetEnv({
    explicit: {
      baseUrl: values['base-url'],
      apiKey: values['api-key'],
      appSecret: values['app-secret'],
      phoneNumberId: values['phone-number-id'],
    },
    env: process.env,
    envPrefix: 'LOAD',
    envFile: values['env-file'] === undefined ? undefined : resolveCliPath(values['env-file']),
  })
  const report = await runLoad({
    baseUrl: env.baseUrl,
    env,
    scenario: values.scenario as ScenarioName[] | undefined,
    maxDurationS: Number(values['max-duration']),
    allowRemote: values['allow-remote'] || process.env.LOAD_ALLOW_REMOTE === '1',
    runner,
    log: values.json ? undefined : (line) => console.log(line),
  })
  console.log(values.json ? JSON.stringify(report, null, 2) : formatLoadReport(report).join('\n'))
  return report.exitCode
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error(`load: ${error instanceof Error ? error.message : String(error)}`)
    console.error(USAGE)
    process.exitCode = 2
  },
)
