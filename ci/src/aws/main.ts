// Direct entry to the AWS operator verbs (`npx tsx ci/src/aws/main.ts <verb> [flags]`): the same verbs the
// deploy CLI dispatches, usable when only this directory's flags are wanted (e.g. `failover`).
import { runAwsVerb } from './verbs.js'

const [verb = '', ...argv] = process.argv.slice(2)
process.exitCode = await runAwsVerb(verb, argv)
