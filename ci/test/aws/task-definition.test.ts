import { describe, expect, it } from 'vitest'
import {
  diffTaskDefinition,
  READ_ONLY_TASK_DEFINITION_FIELDS,
  taskDefinitionWithImage,
} from '../../src/aws/task-definition.js'
import { IMAGE_NEW, IMAGE_OLD, REPO, taskDefinition } from './fixtures.js'

describe('task definition copy', () => {
  const current = taskDefinition('app-api', 4, IMAGE_OLD)

  it('keeps every field but the image of the service container and drops the read-only ones', () => {
    const tags = [{ key: 'project', value: 'whatsapp-saas' }]
    const copy = taskDefinitionWithImage(current, IMAGE_NEW, REPO, tags) as unknown as Record<string, unknown>

    for (const field of READ_ONLY_TASK_DEFINITION_FIELDS) expect(copy).not.toHaveProperty(field)
    const expected = structuredClone(current) as unknown as Record<string, unknown>
    for (const field of READ_ONLY_TASK_DEFINITION_FIELDS) delete expected[field]
    const containers = structuredClone(current.containerDefinitions!)
    containers[0]!.image = IMAGE_NEW
    expect(copy).toEqual({ ...expected, containerDefinitions: containers, tags })
    // The sidecar from another repository keeps its own image.
    expect((copy.containerDefinitions as { image: string }[])[1]!.image).toBe(
      current.containerDefinitions![1]!.image,
    )
    // The source is not mutated.
    expect(current.containerDefinitions![0]!.image).toBe(IMAGE_OLD)
  })

  it('diffs to exactly one line: the image', () => {
    const copy = taskDefinitionWithImage(current, IMAGE_NEW, REPO)
    expect(diffTaskDefinition(current, copy)).toEqual([
      `containerDefinitions[0].image: "${IMAGE_OLD}" → "${IMAGE_NEW}"`,
    ])
    expect(diffTaskDefinition(current, taskDefinitionWithImage(current, IMAGE_OLD, REPO))).toEqual([])
  })

  it('refuses a definition with several containers none of which runs the repository', () => {
    const foreign = taskDefinition('app-api', 4, 'docker.io/library/nginx:1')
    expect(() => taskDefinitionWithImage(foreign, IMAGE_NEW, REPO)).toThrow(/no container running/)
  })
})
