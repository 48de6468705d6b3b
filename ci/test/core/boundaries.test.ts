import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const CORE = join(import.meta.dirname, '..', '..', 'src', 'core')

// The core is written against its ports only; the entries (the CLI, the Dagger module) compose targets and
// tools. create-target.ts is that composition and belongs to the CLI, not to the core's rules.
const FORBIDDEN = [
  /^\.\.\/local\//,
  /^\.\.\/aws\//,
  /^\.\.\/tools\//,
  /^@whatsapp-saas\/smoke/,
  /^@dagger\.io\//,
]

function importsOf(source: string): string[] {
  return [...source.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!)
}

describe('the core', () => {
  it('imports no target, no tool implementation, no smoke suite and no Dagger SDK', () => {
    const files = readdirSync(CORE).filter((f) => f.endsWith('.ts') && f !== 'create-target.ts')
    expect(files).toContain('pipeline.ts')
    const offending = files.flatMap((file) =>
      importsOf(readFileSync(join(CORE, file), 'utf8'))
        .filter((specifier) => FORBIDDEN.some((pattern) => pattern.test(specifier)))
        .map((specifier) => `${file} imports ${specifier}`),
    )
    expect(offending).toEqual([])
  })

  it('finds the imports it forbids (the check itself)', () => {
    expect(
      importsOf("import { x } from '../local/target.js'\nawait import('../tools/smoke-runner.js')"),
    ).toEqual(['../local/target.js', '../tools/smoke-runner.js'])
  })
})
