// Entry of the ops commands shipped in the service image: `node dist/ops/main.js <command> [flags]`.
import { runOpsCli } from './cli.js'
import { processIo } from './output.js'

process.exitCode = await runOpsCli(process.argv.slice(2), process.env, processIo)
