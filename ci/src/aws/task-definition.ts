// Task definition revisions that copy the serving one and change nothing but the image.
import type {
  ContainerDefinition,
  RegisterTaskDefinitionCommandInput,
  Tag,
  TaskDefinition,
} from '@aws-sdk/client-ecs'
import { AwsTargetError } from './errors.js'
import { parseImageReference } from './image-reference.js'

/** Fields DescribeTaskDefinition returns that RegisterTaskDefinition does not accept. */
export const READ_ONLY_TASK_DEFINITION_FIELDS = [
  'taskDefinitionArn',
  'revision',
  'status',
  'requiresAttributes',
  'compatibilities',
  'registeredAt',
  'registeredBy',
  'deregisteredAt',
] as const

/**
 * The containers that run the service image: those whose image comes from the project's repository, or the
 * only container when there is just one (sidecars from other repositories keep their image).
 */
export function serviceContainers(definition: TaskDefinition, repositoryUrl: string): ContainerDefinition[] {
  const containers = definition.containerDefinitions ?? []
  const fromRepository = containers.filter(
    (container) => container.image && parseImageReference(container.image).repository === repositoryUrl,
  )
  if (fromRepository.length > 0) return fromRepository
  if (containers.length === 1) return containers
  throw new AwsTargetError(
    `task definition ${definition.family}:${definition.revision} has no container running ${repositoryUrl}`,
  )
}

/** The register input for a copy of `current` whose service containers run `image`; every other field kept. */
export function taskDefinitionWithImage(
  current: TaskDefinition,
  image: string,
  repositoryUrl: string,
  tags?: Tag[],
): RegisterTaskDefinitionCommandInput {
  const targets = new Set(serviceContainers(current, repositoryUrl).map((container) => container.name))
  const copy: Record<string, unknown> = structuredClone(current) as Record<string, unknown>
  for (const field of READ_ONLY_TASK_DEFINITION_FIELDS) delete copy[field]
  copy.containerDefinitions = (current.containerDefinitions ?? []).map((container) =>
    targets.has(container.name) ? { ...structuredClone(container), image } : structuredClone(container),
  )
  if (tags && tags.length > 0) copy.tags = tags
  return copy as unknown as RegisterTaskDefinitionCommandInput
}

/** The image the service containers of a definition run (they all run the same one). */
export function serviceImage(definition: TaskDefinition, repositoryUrl: string): string {
  const image = serviceContainers(definition, repositoryUrl)[0]?.image
  if (!image)
    throw new AwsTargetError(`task definition ${definition.family}:${definition.revision} has no image`)
  return image
}

/**
 * Field-by-field differences between two JSON-like values as `path: before → after` lines. Hand-written
 * because the dry-run only needs a readable list, not a patch format.
 */
export function diffValues(before: unknown, after: unknown, path = ''): string[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return []
  const bothObjects =
    before !== null && after !== null && typeof before === 'object' && typeof after === 'object'
  if (!bothObjects || Array.isArray(before) !== Array.isArray(after)) {
    return [`${path || '(root)'}: ${JSON.stringify(before)} → ${JSON.stringify(after)}`]
  }
  const keys = new Set([...Object.keys(before as object), ...Object.keys(after as object)])
  return [...keys].flatMap((key) => {
    const childPath = Array.isArray(before) ? `${path}[${key}]` : path ? `${path}.${key}` : key
    return diffValues(
      (before as Record<string, unknown>)[key],
      (after as Record<string, unknown>)[key],
      childPath,
    )
  })
}

/** What registering `next` changes compared with `current`, read-only fields left out. */
export function diffTaskDefinition(
  current: TaskDefinition,
  next: RegisterTaskDefinitionCommandInput,
): string[] {
  const comparable: Record<string, unknown> = structuredClone(current) as Record<string, unknown>
  for (const field of READ_ONLY_TASK_DEFINITION_FIELDS) delete comparable[field]
  const { tags: _tags, ...nextWithoutTags } = next
  return diffValues(comparable, nextWithoutTags)
}
