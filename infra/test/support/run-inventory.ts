// Runs the inventory command as a separate process, exactly as `npm run inventory` does.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { InventoryItem } from '../../src/mock-runtime.js'
import { INFRA_DIR } from '../../src/stack-file.js'

export async function runInventory(stack: string): Promise<InventoryItem[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'src/inventory.ts', '--stack', stack],
    {
      cwd: INFRA_DIR,
      maxBuffer: 32 * 1024 * 1024,
    },
  )
  return JSON.parse(stdout) as InventoryItem[]
}

export async function runInventoryFailure(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/inventory.ts', ...args], {
      cwd: INFRA_DIR,
    })
  } catch (error) {
    const failure = error as { code: number; stderr: string }
    return { code: failure.code, stderr: failure.stderr }
  }
  throw new Error('inventory succeeded but was expected to fail')
}
