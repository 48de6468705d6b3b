import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { SOURCE_IGNORE } from '../../dagger/src/lib/source-filter.js'
import {
  type IntrospectedFunction,
  type IntrospectedModule,
  introspectModule,
} from './dagger-introspection.js'
import { readModuleFunctions } from './module-functions.js'
import { moduleImports } from './module-manifest.js'

const REPO = resolve(import.meta.dirname, '../../..')
const daggerJson = JSON.parse(readFileSync(join(REPO, 'dagger.json'), 'utf8')) as {
  name: string
  engineVersion: string
  sdk: { source: string }
  source: string
  include: string[]
}
const MODULE_SOURCE = join(REPO, daggerJson.source)

/** The module's .ts files: everything under src/ of the module source (the runtime scans all of it). */
function moduleFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((entry) => {
      const path = join(dir, entry)
      if (statSync(path).isDirectory()) return walk(path)
      return path.endsWith('.ts') ? [path] : []
    })
  return walk(join(MODULE_SOURCE, 'src'))
}

const SIDE_EFFECTS = [
  'publish',
  'preview',
  'provision',
  'migrate',
  'deploy',
  'promote',
  'smoke',
  'loadtest',
  'rollback',
  'endToEnd',
  // Not a side effect, but tags move: a cached answer would pin yesterday's digest.
  'imagePins',
]
const CHECKS = ['lint', 'typecheck', 'tests']

describe('dagger.json', () => {
  it('makes ci/dagger the TypeScript module source with a pinned engine matching the SDK it develops against', () => {
    expect(daggerJson.source).toBe('ci/dagger')
    expect(daggerJson.sdk.source).toBe('typescript')
    const sdk = JSON.parse(readFileSync(join(REPO, 'node_modules/@dagger.io/dagger/package.json'), 'utf8'))
    expect(daggerJson.engineVersion).toBe(`v${sdk.version}`)
    const manifest = JSON.parse(readFileSync(join(MODULE_SOURCE, 'package.json'), 'utf8'))
    expect(manifest.devDependencies['@dagger.io/dagger']).toBe(sdk.version)
  })

  it('has module files that are all reached from index.ts and import only each other or packages', () => {
    const files = moduleFiles().map((file) => relative(MODULE_SOURCE, file))
    expect(files).toContain('src/index.ts')
    const imports = moduleImports(MODULE_SOURCE)
    expect(imports.outside).toEqual([])
    expect(imports.files).toEqual(files.sort())
  })
})

describe('the module as the Dagger SDK introspects it', () => {
  let module: IntrospectedModule
  let functions: Record<string, IntrospectedFunction>

  beforeAll(async () => {
    module = await introspectModule(moduleFiles(), daggerJson.name)
    functions = module.objects.WhatsappSaas!.methods
  }, 120_000)

  it('exposes the main object named after the module', () => {
    expect(module.name).toBe('WhatsappSaas')
    expect(Object.keys(module.objects)).toEqual(['WhatsappSaas'])
  })

  it('has every function of the pipeline', () => {
    expect(Object.keys(functions).sort()).toEqual(
      ['build', 'test', 'migrationSafety', 'local', ...CHECKS, ...SIDE_EFFECTS].sort(),
    )
  })

  it('never caches a function with a side effect', () => {
    for (const name of SIDE_EFFECTS) expect(functions[name]!.cache, name).toBe('never')
    expect(functions.build!.cache).toBeUndefined()
  })

  it('exposes lint, type check and tests to `dagger check`, and the local environment to `dagger up`', () => {
    for (const name of Object.keys(functions)) {
      expect(functions[name]!.isCheck, name).toBe(CHECKS.includes(name))
      expect(functions[name]!.isUp, name).toBe(name === 'local')
    }
    expect(functions.local!.returnType).toEqual({ kind: 'OBJECT_KIND', name: 'Service' })
    for (const name of CHECKS) expect(functions[name]!.returnType?.kind).toBe('VOID_KIND')
  })

  it('loads the repository from the context directory without dependencies, build outputs or state', () => {
    for (const [name, fn] of Object.entries(functions)) {
      if (name === 'imagePins') continue // reads registries, not the repository
      const source = fn.arguments.source
      expect(source, `${name} has a source argument`).toBeDefined()
      expect(source!.type).toEqual({ kind: 'OBJECT_KIND', name: 'Directory' })
      expect(source!.defaultPath).toBe('/')
      expect(source!.ignore).toEqual(SOURCE_IGNORE)
      expect(source!.ignore).toEqual(expect.arrayContaining(['**/node_modules', '.git', '**/.pipeline']))
    }
  })

  it('takes every credential as a Secret, the OIDC session token included', () => {
    const credential =
      /^(aws(AccessKeyId|SecretAccessKey|SessionToken)|pulumi(AccessToken|ConfigPassphrase)|apiKey|adminToken|appSecret|verifyToken)$/
    let seen = 0
    for (const [name, fn] of Object.entries(functions)) {
      for (const argument of Object.values(fn.arguments)) {
        if (!credential.test(argument.name)) continue
        seen++
        expect(argument.type, `${name} --${argument.name}`).toEqual({ kind: 'OBJECT_KIND', name: 'Secret' })
      }
    }
    expect(seen).toBeGreaterThan(20)
    expect(Object.keys(functions.deploy!.arguments)).toContain('awsSessionToken')
  })

  it('returns images, digests and reports as the workflows use them', () => {
    expect(functions.build!.returnType).toEqual({ kind: 'OBJECT_KIND', name: 'Container' })
    expect(functions.publish!.returnType).toEqual({ kind: 'STRING_KIND' })
    for (const name of ['deploy', 'promote', 'rollback', 'migrate', 'endToEnd']) {
      expect(functions[name]!.returnType, name).toEqual({ kind: 'OBJECT_KIND', name: 'Directory' })
    }
    expect(functions.loadtest!.returnType).toEqual({ kind: 'OBJECT_KIND', name: 'File' })
  })

  it('agrees with the compiler-API reading used to check workflows and docs', () => {
    const read = readModuleFunctions(join(MODULE_SOURCE, 'src/index.ts'))
    expect(read.map((fn) => fn.name).sort()).toEqual(Object.keys(functions).sort())
    for (const fn of read) {
      const introspected = functions[fn.name]!
      expect(
        fn.arguments.map((a) => a.name),
        fn.name,
      ).toEqual(Object.keys(introspected.arguments))
      for (const argument of fn.arguments) {
        const other = introspected.arguments[argument.name]!
        const hasDefault =
          other.isOptional || other.defaultValue !== undefined || other.defaultPath !== undefined
        expect(argument.optional, `${fn.name} --${argument.name}`).toBe(hasDefault)
      }
    }
  })
})

describe('module layout', () => {
  it('keeps index.ts a thin list of wrappers (logic lives in ci/dagger/src/lib)', () => {
    const index = readFileSync(join(MODULE_SOURCE, 'src/index.ts'), 'utf8')
    expect(index).not.toMatch(/withExec\(\s*\[\s*'(sh|apt-get|npm ci)/)
    expect(existsSync(join(MODULE_SOURCE, 'src/lib'))).toBe(true)
  })
})
