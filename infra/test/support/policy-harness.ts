// Runs resource policies the way the policy engine would, with a fake args object.
import type {
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationPolicy,
} from '@pulumi/policy'

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

export interface FakeResource {
  type: string
  name: string
  inputs: Record<string, unknown>
  /** Property name → names of the resources it depends on. */
  dependsOn?: Record<string, string[]>
}

const urnOf = (r: { type: string; name: string }) => `urn:pulumi:test::whatsapp-saas::${r.type}::${r.name}`

/** Violation messages a stack policy reports for a set of resources. */
export async function stackViolations(
  policy: StackValidationPolicy,
  resources: FakeResource[],
): Promise<string[]> {
  const byName = new Map<string, PolicyResource>()
  const policyResources = resources.map((r) => {
    const resource = {
      type: r.type,
      name: r.name,
      props: r.inputs,
      urn: urnOf(r),
      opts: {} as never,
      dependencies: [],
      propertyDependencies: {} as Record<string, PolicyResource[]>,
      isType: () => false,
      asType: () => undefined,
    } as unknown as PolicyResource
    byName.set(r.name, resource)
    return resource
  })
  resources.forEach((r, i) => {
    for (const [property, names] of Object.entries(r.dependsOn ?? {})) {
      policyResources[i]!.propertyDependencies[property] = names.map((n) => byName.get(n)!)
    }
  })
  const found: string[] = []
  await policy.validateStack(
    {
      resources: policyResources,
      stackTags: new Map(),
      getConfig: <T extends object>() => ({}) as T,
      notApplicable: (reason?: string): never => {
        throw new Error(`not applicable: ${reason ?? ''}`)
      },
    },
    (message) => found.push(message),
  )
  return found
}
