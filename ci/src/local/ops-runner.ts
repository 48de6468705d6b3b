import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { lastJsonLine } from '../core/ops-command-line.js'
import type { OpsResult, StageLog } from '../core/types.js'

/**
 * Runs an ops command of a release as a local process: its stderr lines go to the stage log as they come,
 * its stdout is kept for the final JSON line. Aborting the signal stops it.
 */
export function runOpsProcess(options: {
  releaseDir: string
  args: string[]
  env: NodeJS.ProcessEnv
  log: StageLog
  signal: AbortSignal
}): Promise<OpsResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/ops/main.js', ...options.args], {
      cwd: options.releaseDir,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const stdout: string[] = []
    const output: string[] = []
    createInterface({ input: child.stdout }).on('line', (line) => stdout.push(line))
    createInterface({ input: child.stderr }).on('line', (line) => {
      output.push(line)
      options.log.info(line)
    })
    const abort = () => child.kill('SIGTERM')
    options.signal.addEventListener('abort', abort, { once: true })
    child.once('error', reject)
    child.once('close', (code) => {
      options.signal.removeEventListener('abort', abort)
      const result = lastJsonLine(stdout)
      const error = typeof result?.error === 'string' ? [result.error] : []
      resolve({ exitCode: code ?? 1, output: [...output, ...error], ...(result ? { result } : {}) })
    })
  })
}
