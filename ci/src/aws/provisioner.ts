// provision: the Pulumi program in infra/ driven through the Automation API (preview in dry-run, up
// otherwise). Behind StackProvisioner so tests script it; the Pulumi CLI is required and checked first.
import { execFile } from 'node:child_process'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import type { StageLog } from '../core/types.js'
import { ToolMissingError } from './errors.js'

export interface ProvisionPreview {
  summary: string
  changes: string[]
}

export interface ProvisionOptions {
  /**
   * `ref@sha256:…` being deployed: set as the stack's `whatsapp-saas:service.image` before preview/up, so
   * Pulumi's task-definition revisions (the only ones carrying environment, secrets, CPU and memory) run it.
   */
  image?: string
}

export interface StackProvisioner {
  preview(log: StageLog, signal: AbortSignal, options?: ProvisionOptions): Promise<ProvisionPreview>
  up(
    log: StageLog,
    signal: AbortSignal,
    options?: ProvisionOptions,
  ): Promise<{ summary: string; outputs: Record<string, string> }>
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

/** The stack config key the image is set under (a path into the structured `service` value). */
export const IMAGE_CONFIG_KEY = 'whatsapp-saas:service.image'

/** What the provisioner needs of a Pulumi Automation API stack (a seam for tests). */
export interface AutomationStack {
  setConfig(key: string, value: { value: string }, path?: boolean): Promise<void>
  preview(options: {
    onOutput: (text: string) => void
    diff: boolean
    policyPacks: string[]
  }): Promise<{ changeSummary: Record<string, number | undefined> }>
  up(options: { onOutput: (text: string) => void; policyPacks: string[] }): Promise<{
    summary: { result?: string; resourceChanges?: Record<string, number | undefined> }
    outputs: Record<string, { value: unknown; secret: boolean }>
  }>
  outputs(): Promise<Record<string, { value: unknown; secret: boolean }>>
  cancel(): Promise<void>
}

async function automationStack(stackName: string, infraDir: string): Promise<AutomationStack> {
  await assertPulumiCli()
  const { LocalWorkspace } = await import('@pulumi/pulumi/automation/index.js')
  return (await LocalWorkspace.selectStack({ stackName, workDir: infraDir })) as unknown as AutomationStack
}

/**
 * Pulumi on infra/ with the policy pack (infra/policy) enforced on preview and up: a mandatory violation
 * fails the stage.
 */
export function pulumiProvisioner(
  stackName: string,
  infraDir = resolve('infra'),
  select: () => Promise<AutomationStack> = () => automationStack(stackName, infraDir),
): StackProvisioner {
  const policyPacks = [join(infraDir, 'policy')]
  const lineWriter = (log: StageLog) => (text: string) => {
    for (const line of text.split('\n')) if (line.trim()) log.info(line.trimEnd())
  }
  const prepare = async (log: StageLog, options?: ProvisionOptions) => {
    const stack = await select()
    if (options?.image) {
      await stack.setConfig(IMAGE_CONFIG_KEY, { value: options.image }, true)
      log.info(`${IMAGE_CONFIG_KEY} = ${options.image}`)
    }
    return stack
  }
  const changesOf = (counts: Record<string, number | undefined>) =>
    Object.entries(counts)
      .filter(([operation, count]) => operation !== 'same' && (count ?? 0) > 0)
      .map(([operation, count]) => `${operation}: ${count}`)
  return {
    async preview(log, signal, options) {
      const stack = await prepare(log, options)
      const cancel = () => void stack.cancel()
      signal.addEventListener('abort', cancel, { once: true })
      try {
        const result = await stack.preview({ onOutput: lineWriter(log), diff: true, policyPacks })
        const changes = changesOf(result.changeSummary)
        return { summary: changes.length > 0 ? changes.join(', ') : 'no changes', changes }
      } finally {
        signal.removeEventListener('abort', cancel)
      }
    },
    async up(log, signal, options) {
      const stack = await prepare(log, options)
      const cancel = () => void stack.cancel()
      signal.addEventListener('abort', cancel, { once: true })
      try {
        const result = await stack.up({ onOutput: lineWriter(log), policyPacks })
        const changes = changesOf(result.summary.resourceChanges ?? {})
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
