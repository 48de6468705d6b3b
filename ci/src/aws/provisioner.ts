// provision: the Pulumi program in infra/ driven through the Automation API (preview in dry-run, up
// otherwise). Behind StackProvisioner so tests script it; the Pulumi CLI is required and checked first.
import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { promisify } from 'node:util'
import type { StageLog } from '../core/types.js'
import { ToolMissingError } from './errors.js'

export interface ProvisionPreview {
  summary: string
  changes: string[]
}

export interface StackProvisioner {
  preview(log: StageLog, signal: AbortSignal): Promise<ProvisionPreview>
  up(log: StageLog, signal: AbortSignal): Promise<{ summary: string; outputs: Record<string, string> }>
  /** Current non-secret outputs; empty for a stack never deployed. */
  outputs(): Promise<Record<string, string>>
}

export const PULUMI_INSTALL_HINT =
  'Pulumi CLI not found on PATH: install it (`curl -fsSL https://get.pulumi.com | sh`, see https://www.pulumi.com/docs/install/) ' +
  'and log in to the state backend (`pulumi login`)'

export async function assertPulumiCli(): Promise<void> {
  try {
    await promisify(execFile)('pulumi', ['version'])
  } catch {
    throw new ToolMissingError(PULUMI_INSTALL_HINT)
  }
}

/** Secret outputs are left out: they must never reach logs or reports. */
export function plainOutputs(
  map: Record<string, { value: unknown; secret: boolean }>,
): Record<string, string> {
  const result: Record<string, string> = {}
  for (const [key, output] of Object.entries(map)) {
    if (output.secret || output.value === undefined || output.value === null) continue
    result[key] = Array.isArray(output.value)
      ? output.value.join(',')
      : typeof output.value === 'string'
        ? output.value
        : JSON.stringify(output.value)
  }
  return result
}

export function pulumiProvisioner(stackName: string, infraDir = resolve('infra')): StackProvisioner {
  const select = async () => {
    await assertPulumiCli()
    const { LocalWorkspace } = await import('@pulumi/pulumi/automation/index.js')
    return LocalWorkspace.selectStack({ stackName, workDir: infraDir })
  }
  const lineWriter = (log: StageLog) => (text: string) => {
    for (const line of text.split('\n')) if (line.trim()) log.info(line.trimEnd())
  }
  return {
    async preview(log, signal) {
      const stack = await select()
      const cancel = () => void stack.cancel()
      signal.addEventListener('abort', cancel, { once: true })
      try {
        const result = await stack.preview({ onOutput: lineWriter(log), diff: true })
        const changes = Object.entries(result.changeSummary)
          .filter(([operation, count]) => operation !== 'same' && (count ?? 0) > 0)
          .map(([operation, count]) => `${operation}: ${count}`)
        return { summary: changes.length > 0 ? changes.join(', ') : 'no changes', changes }
      } finally {
        signal.removeEventListener('abort', cancel)
      }
    },
    async up(log, signal) {
      const stack = await select()
      const cancel = () => void stack.cancel()
      signal.addEventListener('abort', cancel, { once: true })
      try {
        const result = await stack.up({ onOutput: lineWriter(log) })
        const changes = Object.entries(result.summary.resourceChanges ?? {})
          .filter(([operation, count]) => operation !== 'same' && (count ?? 0) > 0)
          .map(([operation, count]) => `${operation}: ${count}`)
        return {
          summary: `${result.summary.result}: ${changes.length > 0 ? changes.join(', ') : 'no changes'}`,
          outputs: plainOutputs(result.outputs),
        }
      } finally {
        signal.removeEventListener('abort', cancel)
      }
    },
    async outputs() {
      const stack = await select()
      return plainOutputs(await stack.outputs())
    },
  }
}
