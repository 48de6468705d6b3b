// Runs the Pulumi program for one stack under mocks (mocks first, then the program) and offers
// lookups over what it registered. One stack per test file: Pulumi's runtime state is per module graph.
import { type InventoryItem, installMocks, resolveProgramOutputs, settle } from '../../src/mock-runtime.js'

export interface StackRun {
  items: InventoryItem[]
  outputs: Record<string, unknown>
  ofType(type: string): InventoryItem[]
  one(type: string, nameSuffix?: string): InventoryItem
}

export async function runStackProgram(
  stack: string,
  overrides: Record<string, string> = {},
): Promise<StackRun> {
  const items = await installMocks(stack, overrides)
  const program = (await import('../../index.js')) as Record<string, unknown>
  await settle()
  const outputs = await resolveProgramOutputs(program)
  const ofType = (type: string) => items.filter((i) => i.type === type)
  return {
    items,
    outputs,
    ofType,
    one(type, nameSuffix) {
      const found = ofType(type).filter((i) => nameSuffix === undefined || i.name.endsWith(nameSuffix))
      if (found.length !== 1)
        throw new Error(`expected one ${type} named *${nameSuffix ?? ''}, found ${found.length}`)
      return found[0]!
    },
  }
}
