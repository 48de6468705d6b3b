import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { OpsCommand, OpsResult, StageLog } from '../core/types.js'

/** The command line of an ops command of the service (`node dist/ops/main.js ...`). */
export function opsArguments(command: OpsCommand, extra: string[] = []): string[] {
  switch (command.name) {
    case 'backup':
      return ['backup']
    case 'verify-backup':
      return ['verify-backup', '--backup', command.backupId]
    case 'restore':
      return ['restore', '--backup', command.backupId, ...(command.force ? ['--force'] : [])]
    case 'migrate':
      return [
        'migrate',
        '--max-backup-age',
        String(command.maxBackupAgeMinutes),
        ...(command.allowDestructive ? ['--allow-destructive'] : []),
      ]
    case 'migration-status':
      return ['migration-status']
    case 'seed':
      return ['seed', ...extra]
  }
}

/** Parses the last line of stdout that is a JSON object (ops commands end with one). */
export function lastJsonLine(lines: string[]): Record<string, unknown> | undefined {
  for (const line of [...lines].reverse()) {
    const trimmed = line.trim()
    if (!trimmed.startsWith('{')) continue
    try {
      return JSON.parse(trimmed) as Record<string, unknown>
    } catch {}
  }
  return undefined
}

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
