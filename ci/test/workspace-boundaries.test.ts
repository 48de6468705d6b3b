import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const REPO = join(import.meta.dirname, '..', '..')

function sources(dir: string): string[] {
  return readdirSync(join(REPO, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(REPO, join(entry.parentPath, entry.name)))
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(REPO, file), 'utf8')
  return [...text.matchAll(/(?:from|import\()\s*['"]([^'"]+)['"]/g)].map((match) => match[1]!)
}

describe('workspace boundaries', () => {
  it('the local target and the drills reach the local servers through their package, not the api', () => {
    const offending = [...sources('ci/src/local'), ...sources('ci/src/drill')].flatMap((file) =>
      importsOf(file)
        .filter((spec) => spec.includes('local-services') && spec !== '@whatsapp-saas/local-services')
        .map((spec) => `${file}: ${spec}`),
    )
    expect(offending).toEqual([])
  })

  it('the service never imports the local servers: its image does not carry them', () => {
    const offending = sources('api/src').flatMap((file) =>
      importsOf(file)
        .filter((spec) => spec.includes('local-services'))
        .map((spec) => `${file}: ${spec}`),
    )
    expect(offending).toEqual([])
  })
})
