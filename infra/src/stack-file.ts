// Reads `Pulumi.<stack>.yaml` into the raw key → string map that Pulumi itself would hand the
// program (structured values JSON-encoded). Used where no Pulumi engine runs: mocks and the cost model.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { parseStackConfig, type StackConfig } from './config.js'

export const INFRA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..')

export function readStackFile(stack: string, dir = INFRA_DIR): Record<string, string> {
  if (!/^[a-z0-9-]+$/.test(stack)) throw new Error(`invalid stack name "${stack}"`)
  const path = join(dir, `Pulumi.${stack}.yaml`)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    throw new Error(`no stack file ${path} (known stacks: staging, production)`)
  }
  const document = parse(text) as { config?: Record<string, unknown> } | null
  const config = document?.config ?? {}
  const raw: Record<string, string> = {}
  for (const [key, value] of Object.entries(config)) {
    raw[key] = typeof value === 'string' ? value : JSON.stringify(value)
  }
  return raw
}

export const loadStackConfig = (stack: string, dir = INFRA_DIR): StackConfig =>
  parseStackConfig(stack, readStackFile(stack, dir))
