import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type AutomationStack, IMAGE_CONFIG_KEY, pulumiProvisioner } from '../../src/aws/provisioner.js'
import { IMAGE_NEW, recordingLog } from './fixtures.js'

/** A Pulumi Automation API stack that records what it was asked, and fails `up` like a policy violation would. */
function automationStack(violation?: string) {
  const calls: { setConfig: unknown[][]; up: unknown[]; preview: unknown[] } = {
    setConfig: [],
    up: [],
    preview: [],
  }
  const stack: AutomationStack = {
    setConfig: async (...args) => {
      calls.setConfig.push(args)
    },
    preview: async (options) => {
      calls.preview.push(options)
      return { changeSummary: { same: 90, update: 2 } }
    },
    up: async (options) => {
      calls.up.push(options)
      if (violation) throw new Error(`Policy Violations: ${violation}`)
      return { summary: { result: 'succeeded', resourceChanges: { update: 2 } }, outputs: {} }
    },
    outputs: async () => ({}),
    cancel: async () => {},
  }
  return { stack, calls }
}

describe('provision through Pulumi', () => {
  it('enforces the policy pack on up and preview, and sets the image being deployed first', async () => {
    const { stack, calls } = automationStack()
    const provisioner = pulumiProvisioner('staging', '/repo/infra', async () => stack)
    await provisioner.up(recordingLog(), new AbortController().signal, { image: IMAGE_NEW })
    await provisioner.preview(recordingLog(), new AbortController().signal, { image: IMAGE_NEW })

    expect(calls.setConfig).toEqual([
      [IMAGE_CONFIG_KEY, { value: IMAGE_NEW }, true],
      [IMAGE_CONFIG_KEY, { value: IMAGE_NEW }, true],
    ])
    expect(calls.up).toEqual([expect.objectContaining({ policyPacks: [join('/repo/infra', 'policy')] })])
    expect(calls.preview).toEqual([expect.objectContaining({ policyPacks: [join('/repo/infra', 'policy')] })])
  })

  it('fails the provision when the policy pack reports a mandatory violation', async () => {
    const { stack } = automationStack('production-multi-az (mandatory)')
    const provisioner = pulumiProvisioner('production', '/repo/infra', async () => stack)
    await expect(provisioner.up(recordingLog(), new AbortController().signal)).rejects.toThrow(
      /Policy Violations: production-multi-az/,
    )
  })
})
