// Runs resource policies the way the policy engine would, with a fake args object.
import type { ResourceValidationArgs, ResourceValidationPolicy } from '@pulumi/policy'

export function validationArgs(
  type: string,
  props: Record<string, unknown>,
  name = 'resource',
): ResourceValidationArgs {
  return {
    type,
    props,
    name,
    urn: `urn:pulumi:test::whatsapp-saas::${type}::${name}`,
    opts: {
      protect: false,
      ignoreChanges: [],
      aliases: [],
      additionalSecretOutputs: [],
      customTimeouts: {},
    } as never,
    stackTags: new Map(),
    isType: (resourceClass) => (resourceClass as unknown as { __pulumiType?: string }).__pulumiType === type,
    asType: () => undefined,
    getConfig: <T extends object>() => ({}) as T,
    notApplicable: (reason?: string): never => {
      throw new Error(`not applicable: ${reason ?? ''}`)
    },
  }
}

/** Violation messages `policy` reports for one resource. */
export async function violations(
  policy: ResourceValidationPolicy,
  type: string,
  props: Record<string, unknown>,
  name?: string,
): Promise<string[]> {
  const found: string[] = []
  const validate = policy.validateResource
  if (!validate) throw new Error(`${policy.name} has no validateResource`)
  const validators = Array.isArray(validate) ? validate : [validate]
  for (const fn of validators) await fn(validationArgs(type, props, name), (message) => found.push(message))
  return found
}
