import { readdirSync, readFileSync, statSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join, relative, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { IMAGE_PINS, IMAGES, imagePinLines, pinnedReference } from '../../dagger/src/lib/images.js'

const MODULE = join(resolve(import.meta.dirname, '../../..'), 'ci/dagger')
const TABLE = 'src/lib/images.ts'
const DIGEST = /^sha256:[0-9a-f]{64}$/
/** Repositories of the images the module starts: any literal naming one outside the table bypasses it. */
const IMAGE_LITERAL =
  /^(docker\.io\/)?(library\/)?(node|postgres|redis|grafana\/k6|pulumi\/[\w-]+)(:[\w.-]+|@sha256:\w+)/

function moduleFiles(dir = join(MODULE, 'src')): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) return moduleFiles(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

/** Image references in a module file that do not go through the table: literals, and `.from()` of anything else. */
function bypasses(file: string, text = readFileSync(file, 'utf8')): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true)
  const name = relative(MODULE, file)
  const found: string[] = []
  const visit = (node: ts.Node) => {
    if (
      (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) &&
      IMAGE_LITERAL.test(node.text) &&
      !ts.isImportDeclaration(node.parent) &&
      !builtinModules.includes(node.text.replace(/^node:/, ''))
    ) {
      found.push(`${name}: literal "${node.text}"`)
    }
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === 'from' &&
      node.expression.expression.getText().includes('container()') &&
      !/\bIMAGES\.\w+|\bpin\.tag\b/.test(node.arguments[0]?.getText() ?? '')
    ) {
      found.push(`${name}: from(${node.arguments[0]?.getText()})`)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

describe('base images', () => {
  it('are pinned by digest next to their tag, in one table', () => {
    for (const [name, pin] of Object.entries(IMAGE_PINS)) {
      expect(pin.tag, name).toMatch(/^[a-z0-9./-]+:[\w.-]+$/)
      if ('digest' in pin) {
        expect(pin.digest, name).toMatch(DIGEST)
        expect(IMAGES[name as keyof typeof IMAGES]).toBe(`${pin.tag}@${pin.digest}`)
      }
    }
    // The one image no digest could be resolved for here; any other unpinned entry fails.
    const unpinned = Object.entries(IMAGE_PINS).filter(([, pin]) => !('digest' in pin))
    expect(unpinned.map(([name]) => name)).toEqual(['pulumi'])
    expect(IMAGES.k6).toBe(
      'grafana/k6:1.3.0@sha256:3ddc8b1a33a2c3d8edc6e99b6a762ae36cba08788463458f5e6a7703e14eb77d',
    )
  })

  it('refuses a malformed digest and an entry with neither digest nor reason', () => {
    expect(() => pinnedReference({ tag: 'node:22', digest: 'sha256:abc' })).toThrow(/malformed digest/)
    expect(() => pinnedReference({ tag: 'node:22' })).toThrow(/has no digest/)
    expect(pinnedReference({ tag: 'node:22', digest: `sha256:${'a'.repeat(64)}` })).toBe(
      `node:22@sha256:${'a'.repeat(64)}`,
    )
  })

  it('are referenced only through the table by every module file', () => {
    const files = moduleFiles().filter((file) => relative(MODULE, file) !== TABLE)
    expect(files.length).toBeGreaterThan(10)
    expect(files.flatMap((file) => bypasses(file))).toEqual([])
  })

  it('the bypass check finds a literal tag and a from() outside the table (it can fail)', () => {
    const file = join(MODULE, 'src/lib/example.ts')
    expect(
      bypasses(
        file,
        "const a = dag.container().from('postgres:16')\nconst b = dag.container().from(other)\n",
      ),
    ).toEqual([
      "src/lib/example.ts: from('postgres:16')",
      'src/lib/example.ts: literal "postgres:16"',
      'src/lib/example.ts: from(other)',
    ])
  })

  it('prints the bump as name and resolved reference per line', () => {
    expect(imagePinLines({ ...IMAGES, node: 'docker.io/library/node:22-bookworm@sha256:1' })).toMatch(
      /^node docker\.io\/library\/node:22-bookworm@sha256:1\nnodeSlim /,
    )
  })
})
