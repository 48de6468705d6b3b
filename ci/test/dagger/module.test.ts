import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { SOURCE_IGNORE } from '../../dagger/src/lib/source-filter.js'
import {
  type IntrospectedConstructor,
  type IntrospectedFunction,
  type IntrospectedModule,
  introspectModule,
} from './dagger-introspection.js'
import { readModuleConstructor, readModuleFunctions } from './module-functions.js'
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
  'drill',
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
  let moduleConstructor: IntrospectedConstructor

  beforeAll(async () => {
    module = await introspectModule(moduleFiles(), daggerJson.name)
    functions = module.objects.WhatsappSaas!.methods
    moduleConstructor = module.objects.WhatsappSaas!._constructor!
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

  it('loads the repository once, in the constructor, from the context directory without dependencies, build outputs or state', () => {
    const source = moduleConstructor.arguments.source!
    expect(source.type).toEqual({ kind: 'OBJECT_KIND', name: 'Directory' })
    expect(source.defaultPath).toBe('/')
    expect(source.ignore).toEqual(SOURCE_IGNORE)
    expect(source.ignore).toEqual(expect.arrayContaining(['**/node_modules', '.git', '**/.pipeline']))
    for (const [name, fn] of Object.entries(functions)) {
      expect(
        Object.values(fn.arguments).filter((a) => a.type?.name === 'Directory' && a.defaultPath),
        name,
      ).toEqual([])
      expect(fn.arguments.source, `${name} takes no source of its own`).toBeUndefined()
    }
  })

  it('takes the cloud credentials once, in the constructor, as Secrets (the OIDC session token included)', () => {
    const cloud =
      /^(aws(AccessKeyId|SecretAccessKey|SessionToken|Region)|pulumi(AccessToken|BackendUrl|ConfigPassphrase))$/
    expect(
      Object.keys(moduleConstructor.arguments)
        .filter((name) => cloud.test(name))
        .sort(),
    ).toEqual(
      [
        'awsAccessKeyId',
        'awsSecretAccessKey',
        'awsSessionToken',
        'awsRegion',
        'pulumiAccessToken',
        'pulumiBackendUrl',
        'pulumiConfigPassphrase',
      ].sort(),
    )
    for (const name of [
      'awsAccessKeyId',
      'awsSecretAccessKey',
      'awsSessionToken',
      'pulumiAccessToken',
      'pulumiConfigPassphrase',
    ]) {
      expect(moduleConstructor.arguments[name]!.type, name).toEqual({ kind: 'OBJECT_KIND', name: 'Secret' })
    }
    for (const [name, fn] of Object.entries(functions)) {
      expect(
        Object.keys(fn.arguments).filter((argument) => cloud.test(argument)),
        name,
      ).toEqual([])
    }
  })

  it('can be constructed with no argument at all (how `dagger check` and `dagger up` construct it)', () => {
    for (const argument of Object.values(moduleConstructor.arguments)) {
      const hasDefault =
        argument.isOptional || argument.defaultValue !== undefined || argument.defaultPath !== undefined
      expect(hasDefault, argument.name).toBe(true)
    }
  })

  it('keeps every constructor argument in a declared field (the runtime serializes only declared fields)', () => {
    expect(Object.keys(module.objects.WhatsappSaas!.properties).sort()).toEqual(
      Object.keys(moduleConstructor.arguments).sort(),
    )
  })

  it('takes every other credential as a Secret', () => {
    const credential = /^(apiKey|adminToken|appSecret|verifyToken)$/
    let seen = 0
    for (const [name, fn] of Object.entries(functions)) {
      for (const argument of Object.values(fn.arguments)) {
        if (!credential.test(argument.name)) continue
        seen++
        expect(argument.type, `${name} --${argument.name}`).toEqual({ kind: 'OBJECT_KIND', name: 'Secret' })
      }
    }
    expect(seen).toBeGreaterThanOrEqual(6)
  })

  it('returns images, digests and reports as the workflows use them', () => {
    expect(functions.build!.returnType).toEqual({ kind: 'OBJECT_KIND', name: 'Container' })
    expect(functions.publish!.returnType).toEqual({ kind: 'STRING_KIND' })
    for (const name of ['deploy', 'promote', 'rollback', 'migrate', 'endToEnd', 'drill']) {
      expect(functions[name]!.returnType, name).toEqual({ kind: 'OBJECT_KIND', name: 'Directory' })
    }
    expect(functions.loadtest!.returnType).toEqual({ kind: 'OBJECT_KIND', name: 'File' })
  })

  it('agrees with the compiler-API reading used to check workflows and docs', () => {
    const entry = join(MODULE_SOURCE, 'src/index.ts')
    const readConstructor = readModuleConstructor(entry)
    expect(readConstructor.map((a) => a.name)).toEqual(Object.keys(moduleConstructor.arguments))
    for (const argument of readConstructor) expect(argument.optional, argument.name).toBe(true)
    const read = readModuleFunctions(entry)
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
