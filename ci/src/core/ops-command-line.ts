import type { OpsCommand } from './types.js'

// The service's ops commands as every target runs them (a local process, an ECS task): one command line
// and one reading of their output, so a flag such as --allow-destructive cannot reach one target only.

/** The arguments of an ops command of the service (after `node dist/ops/main.js`). */
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

/** The last line of output that is a JSON object (ops commands end with one). */
export function lastJsonLine(lines: string[]): Record<string, unknown> | undefined {
  for (let index = lines.length - 1; index >= 0; index--) {
    const line = lines[index]!.trim()
    if (!line.startsWith('{')) continue
    try {
      const value: unknown = JSON.parse(line)
      if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>
    } catch {
      // A human line that merely starts with a brace; keep looking further up.
    }
  }
  return undefined
}
