// Runs infra/ under Pulumi's mocks for one stack and prints `{ inventory, outputs }` as JSON: what a
// `pulumi up` of that stack config would register and export. A process per run because Pulumi's runtime
// state is per module graph (one stack per process). Usage (cwd infra/):
//   node --import tsx <this file> --stack staging [--image <ref@sha256:…>] [--overrides '{"whatsapp-saas:domain":"…"}']
// --image is what the provision stage sets (`whatsapp-saas:service.image`).
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: { stack: { type: 'string' }, image: { type: 'string' }, overrides: { type: 'string' } },
})
const infra = process.cwd()
// Computed paths: the ci project's type check stays out of infra/.
const mocks = await import(pathToFileURL(join(infra, 'src', 'mock-runtime.ts')).href)
const overrides = JSON.parse(values.overrides ?? '{}') as Record<string, string>
if (values.image) {
  const stackFile = await import(pathToFileURL(join(infra, 'src', 'stack-file.ts')).href)
  const service = JSON.parse(stackFile.readStackFile(values.stack!)['whatsapp-saas:service'])
  overrides['whatsapp-saas:service'] = JSON.stringify({ ...service, image: values.image })
}
const inventory = await mocks.installMocks(values.stack!, overrides)
const program = (await import(pathToFileURL(join(infra, 'index.ts')).href)) as Record<string, unknown>
await mocks.settle()
const outputs = await mocks.resolveProgramOutputs(program)
process.stdout.write(`${JSON.stringify({ inventory, outputs })}\n`)
