// What the container that runs a pipeline CLI command needs besides the repository, decided without an
// engine. Every AWS command reads the stack's outputs, which the CLI takes from Pulumi (`pulumi stack
// output`: the Pulumi image, with the backend's credentials) unless given a file; deploy and promote run the
// load stage, which uses k6 when it is on PATH and otherwise falls back to autocannon.
import type { ImageName } from './images.js'

export type PipelineCommand = 'deploy' | 'promote' | 'migrate' | 'rollback'

/** Where k6 sits in the official grafana/k6 image (a static binary) and where the pipeline finds it. */
export const K6_BINARY = { image: '/usr/bin/k6', path: '/usr/local/bin/k6' } as const
/** A stack outputs file given to the module (`--stack-outputs`), read by the CLI's AWS verbs. */
export const STACK_OUTPUTS_PATH = '/run/whatsapp-saas/stack-outputs.json'

export interface PipelineContainerPlan {
  image: ImageName
  /** Copy k6 from the official image onto PATH, so the load stage runs k6 rather than autocannon. */
  k6: boolean
  /** Environment of the container (no secrets: those are Secret variables). */
  env: Record<string, string>
}

export function pipelineContainerPlan(
  command: PipelineCommand,
  options: { skipLoad?: boolean; stackOutputs?: boolean } = {},
): PipelineContainerPlan {
  const loads = (command === 'deploy' || command === 'promote') && !options.skipLoad
  return {
    image: 'pulumi',
    k6: loads,
    env: options.stackOutputs ? { AWS_STACK_OUTPUTS_FILE: STACK_OUTPUTS_PATH } : {},
  }
}
