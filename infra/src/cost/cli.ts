// `npm run costs -w infra -- --stack <name> [--json]`: the itemized monthly estimate of a stack.
import { parseArgs } from 'node:util'
import { loadStackConfig } from '../stack-file.js'
import { costReport, renderCostReport } from './report.js'

const { values } = parseArgs({
  options: { stack: { type: 'string' }, json: { type: 'boolean', default: false } },
})
if (!values.stack) {
  console.error('usage: npm run costs -w infra -- --stack <staging|production> [--json]')
  process.exit(2)
}
try {
  const report = costReport(loadStackConfig(values.stack))
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderCostReport(report))
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error))
  process.exit(1)
}
