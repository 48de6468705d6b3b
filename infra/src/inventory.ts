// `npm run inventory -w infra -- --stack <name>`: prints, under Pulumi mocks, a JSON array of every
// resource the stack declares: `{ "type": "<pulumi type token>", "name", "inputs": {...} }`.
// Secret inputs are printed as "[secret]".
import { parseArgs } from 'node:util'
import { readStackFile } from './stack-file.js'

const { values } = parseArgs({ options: { stack: { type: 'string' } } })
if (!values.stack) {
  console.error('usage: npm run inventory -w infra -- --stack <staging|production>')
  process.exit(2)
}
try {
  readStackFile(values.stack) // fails fast, before loading Pulumi, on an unknown stack
  const { installMocks, settle } = await import('./mock-runtime.js')
  const inventory = await installMocks(values.stack)
  await import('../index.js')
  await settle()
  process.stdout.write(`${JSON.stringify(inventory, null, 2)}\n`)
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error))
  process.exit(1)
}
