import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fullHelp, parseCommandLine, UsageError, usageHint, verbHelp } from './command-line.js'
import { type CliIo, EXIT, runVerb } from './run-verb.js'

// The one CLI: `npm run deploy`, the operator verbs on every target and the local environment. Every verb
// and flag is in verb-table.ts. Exit codes: 0 success, 1 failure, 2 usage error, 3 rolled back.

const processIo = {
  stdout: (text: string) => process.stdout.write(`${text}\n`),
  stderr: (text: string) => process.stderr.write(`${text}\n`),
}

export async function main(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const out = io.stdout ?? processIo.stdout
  const err = io.stderr ?? processIo.stderr
  const controller = new AbortController()
  let interrupts = 0
  const onInterrupt = () => {
    interrupts++
    if (interrupts > 1) process.exit(130)
    err('\ninterrupted: stopping the current stage (Ctrl-C again to quit at once)')
    controller.abort(new Error('interrupted by the operator'))
  }
  if (!io.signal) process.on('SIGINT', onInterrupt)
  try {
    const line = parseCommandLine(argv)
    if (line.kind === 'help') {
      out(line.verb ? verbHelp(line.verb) : fullHelp())
      return EXIT.succeeded
    }
    return await runVerb(line.invocation, {
      stdout: out,
      stderr: err,
      signal: io.signal ?? controller.signal,
      ...(io.awsTargetOptions ? { awsTargetOptions: io.awsTargetOptions } : {}),
    })
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error)
    err(`error: ${message}`)
    if (error instanceof UsageError) {
      err(usageHint(error.verb))
      return EXIT.usage
    }
    return EXIT.failed
  } finally {
    process.off('SIGINT', onInterrupt)
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2))
}
