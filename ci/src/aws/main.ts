// Former entry of the AWS operator verbs, kept so `npx tsx ci/src/aws/main.ts <verb> …` in older notes still
// works: it is the one CLI (ci/src/cli/main.ts) with `--target aws`.
import { main } from '../cli/main.js'

const [verb, ...argv] = process.argv.slice(2)
process.exitCode = await main(
  verb === undefined || verb.startsWith('-') ? process.argv.slice(2) : [verb, '--target', 'aws', ...argv],
)
