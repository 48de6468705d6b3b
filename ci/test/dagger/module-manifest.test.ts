import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { manifestProblems, moduleImports, packageName } from './module-manifest.js'

const REPO = resolve(import.meta.dirname, '../../..')
const daggerJson = JSON.parse(readFileSync(join(REPO, 'dagger.json'), 'utf8')) as { source: string }
const MODULE = join(REPO, daggerJson.source)

const copies: string[] = []
afterEach(() => {
  for (const dir of copies.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A copy of the module source (manifest, lockfile, tsconfig, src) to break one thing in. */
function moduleCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dagger-module-'))
  copies.push(dir)
  for (const name of ['package.json', 'package-lock.json', 'tsconfig.json', 'src']) {
    cpSync(join(MODULE, name), join(dir, name), { recursive: true })
  }
  return dir
}

function editJson(path: string, edit: (value: Record<string, Record<string, unknown>>) => void): void {
  const value = JSON.parse(readFileSync(path, 'utf8'))
  edit(value)
  writeFileSync(path, JSON.stringify(value, null, 2))
}

describe('the module source the engine installs', () => {
  it('is a directory of its own with a manifest, a lockfile and the runtime entry', () => {
    expect(daggerJson.source).toBe('ci/dagger')
    expect(manifestProblems(MODULE)).toEqual([])
  })

  it('imports only files of its own directory and published packages', () => {
    const imports = moduleImports(MODULE)
    expect(imports.files).toContain('src/index.ts')
    expect(imports.files).toContain('src/lib/containers.ts')
    expect(imports.outside).toEqual([])
    expect([...imports.packages.keys()].sort()).toEqual(['@aws-sdk/client-ecr', '@dagger.io/dagger'])
  })

  it('reads package names as npm does', () => {
    expect(packageName('@aws-sdk/client-ecr')).toBe('@aws-sdk/client-ecr')
    expect(packageName('yaml/util')).toBe('yaml')
    expect(packageName('node:fs')).toBeUndefined()
    expect(packageName('crypto')).toBeUndefined()
    expect(packageName('./lib/k6.js')).toBeUndefined()
  })
})

describe('the manifest check can fail', () => {
  it('refuses the ci workspace manifest the module used to have (workspace packages, no lockfile)', () => {
    const dir = moduleCopy()
    cpSync(join(REPO, 'ci/package.json'), join(dir, 'package.json'))
    rmSync(join(dir, 'package-lock.json'))
    const problems = manifestProblems(dir)
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^packageManager must pin/),
        '@whatsapp-saas/api@* is a workspace package, not a published one',
        "no package-lock.json next to the module's package.json",
      ]),
    )
  })

  it('refuses a lockfile that disagrees with the manifest', () => {
    const dir = moduleCopy()
    editJson(join(dir, 'package.json'), (manifest) => {
      manifest.dependencies!['@aws-sdk/client-ecr'] = '^3.2000.0'
    })
    expect(manifestProblems(dir)).toEqual([
      'package-lock.json disagrees with package.json: regenerate it (see docs/ci-cd.md)',
    ])
  })

  it('refuses a lockfile entry that is a link or comes from elsewhere than the npm registry', () => {
    const dir = moduleCopy()
    editJson(join(dir, 'package-lock.json'), (lock) => {
      const packages = lock.packages as Record<string, Record<string, unknown>>
      packages['node_modules/@aws-sdk/client-ecr']!.resolved = 'https://example.com/client-ecr.tgz'
      packages['node_modules/typescript'] = { link: true, resolved: '../../node_modules/typescript' }
    })
    expect(manifestProblems(dir)).toEqual([
      'package-lock.json: node_modules/@aws-sdk/client-ecr resolved outside the npm registry (https://example.com/client-ecr.tgz)',
      'package-lock.json: node_modules/typescript is a link, not a published package',
      'package-lock.json: node_modules/typescript resolved outside the npm registry (../../node_modules/typescript)',
    ])
  })

  it('refuses a runtime import (even a transitive one) missing from the dependencies', () => {
    const dir = moduleCopy()
    const k6 = join(dir, 'src/lib/k6.ts')
    writeFileSync(
      k6,
      `import pc from 'picocolors'\nexport const colour = pc.red\n${readFileSync(k6, 'utf8')}`,
    )
    expect(manifestProblems(dir)).toEqual(['src/lib/k6.ts imports picocolors, missing from dependencies'])
  })

  it('refuses a relative import that leaves the module source (the runtime would not have the file)', () => {
    const dir = moduleCopy()
    const index = join(dir, 'src/index.ts')
    writeFileSync(index, `import '../../src/core/types.js'\n${readFileSync(index, 'utf8')}`)
    expect(manifestProblems(dir)).toEqual([
      'src/index.ts imports ../../src/core/types.js: outside the module source',
    ])
  })

  it('refuses the SDK as a runtime dependency and a typescript other than the runtime one', () => {
    const dir = moduleCopy()
    editJson(join(dir, 'package.json'), (manifest) => {
      manifest.dependencies!.typescript = '^5.9.0'
      manifest.dependencies!['@dagger.io/dagger'] = '0.21.9'
      delete manifest.devDependencies
    })
    expect(manifestProblems(dir)).toEqual(
      expect.arrayContaining([
        'dependencies.typescript must be 5.9.3 (what the runtime would add)',
        '@dagger.io/dagger belongs in devDependencies: the runtime supplies its generated SDK',
      ]),
    )
  })
})
