// What the Dagger engine's TypeScript runtime needs from the module source directory, checked without an
// engine. Read against the SDK runtime (sdk/typescript/runtime, config.go and runtime_node.go):
// - it sees only the module source directory (dagger.json `source`), never the workspace around it;
// - it picks the package manager from package.json `packageManager` (`npm@x.y.z`), else from the lockfile
//   present, else yarn 1.22.22 with no lockfile at all;
// - with npm it runs `npm install --omit=dev` against that directory's package.json and package-lock.json;
// - it deletes `@dagger.io/dagger` from the manifest and mounts its generated SDK there instead, and adds
//   `typescript` 5.9.3 when absent (a dependency of exactly that version is mounted from the engine).
import { existsSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'

/** The SDK runtime's DefaultTypeScriptVersion (sdk/typescript/runtime/tsdistconsts/consts.go). */
export const RUNTIME_TYPESCRIPT = '5.9.3'
/** Provided by the runtime (generated bindings), so only a development dependency of the module. */
export const RUNTIME_SDK = '@dagger.io/dagger'
/** Where npm takes published packages from; a lockfile entry resolved elsewhere is not reproducible. */
const NPM_REGISTRY = 'https://registry.npmjs.org/'

const LOCKFILES: Record<string, string> = { npm: 'package-lock.json' }

interface Manifest {
  name?: string
  packageManager?: string
  dependencies?: Record<string, string>
  devDependencies?: Record<string, string>
  workspaces?: unknown
}

interface LockEntry {
  version?: string
  integrity?: string
  resolved?: string
  link?: boolean
  dev?: boolean
  dependencies?: Record<string, string>
  devDependencies?: Record<string, string>
}

interface Lockfile {
  lockfileVersion?: number
  packages?: Record<string, LockEntry>
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`; undefined for relative or built-in specifiers. */
export function packageName(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:'))
    return undefined
  if (builtinModules.includes(specifier.split('/')[0]!)) return undefined
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
}

export interface ModuleImports {
  /** Module files reached from the entry, relative to the module source directory. */
  files: string[]
  /** Package name → the first file importing it. */
  packages: Map<string, string>
  /** Relative imports that leave the module source directory or point at no file. */
  outside: string[]
}

/** Every import reachable from `src/index.ts`, following relative imports (`.js` → `.ts`) transitively. */
export function moduleImports(moduleDir: string): ModuleImports {
  const root = resolve(moduleDir)
  const seen = new Set<string>()
  const packages = new Map<string, string>()
  const outside: string[] = []
  const queue = [join(root, 'src/index.ts')]
  while (queue.length > 0) {
    const file = queue.shift()!
    if (seen.has(file)) continue
    seen.add(file)
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
    for (const { fileName: specifier } of importedFiles) {
      const name = packageName(specifier)
      const from = relative(root, file)
      if (name) {
        if (!packages.has(name)) packages.set(name, from)
        continue
      }
      if (!specifier.startsWith('.')) continue // node: and built-in modules
      const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'))
      if (relative(root, target).startsWith('..') || !existsSync(target)) {
        outside.push(`${from} imports ${specifier}`)
        continue
      }
      queue.push(target)
    }
  }
  return { files: [...seen].map((file) => relative(root, file)).sort(), packages, outside }
}

const sameRecord = (a: Record<string, string> = {}, b: Record<string, string> = {}) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort())

/** Everything that would stop the engine from installing the module's dependencies; empty when none. */
export function manifestProblems(moduleDir: string): string[] {
  const manifestPath = join(moduleDir, 'package.json')
  if (!existsSync(manifestPath)) return ['no package.json in the module source']
  const manifest = readJson<Manifest>(manifestPath)
  const problems: string[] = []
  const pinned = /^(npm|pnpm|yarn)@(\d+\.\d+\.\d+)$/.exec(manifest.packageManager ?? '')
  if (!pinned)
    problems.push(`packageManager must pin the installer (npm@x.y.z), got "${manifest.packageManager}"`)
  if (manifest.workspaces) problems.push('the module manifest must not declare workspaces')
  const dependencies = manifest.dependencies ?? {}
  const devDependencies = manifest.devDependencies ?? {}
  for (const [name, spec] of Object.entries({ ...dependencies, ...devDependencies })) {
    if (name.startsWith('@whatsapp-saas/') || /^(\*|file:|link:|workspace:|\.)/.test(spec)) {
      problems.push(`${name}@${spec} is a workspace package, not a published one`)
    }
  }
  if (dependencies.typescript !== RUNTIME_TYPESCRIPT) {
    problems.push(`dependencies.typescript must be ${RUNTIME_TYPESCRIPT} (what the runtime would add)`)
  }
  if (dependencies[RUNTIME_SDK] || !devDependencies[RUNTIME_SDK]) {
    problems.push(`${RUNTIME_SDK} belongs in devDependencies: the runtime supplies its generated SDK`)
  }

  const imports = moduleImports(moduleDir)
  for (const line of imports.outside) problems.push(`${line}: outside the module source`)
  for (const [name, file] of imports.packages) {
    if (name === RUNTIME_SDK) continue
    if (!dependencies[name]) problems.push(`${file} imports ${name}, missing from dependencies`)
  }
  for (const name of Object.keys(dependencies)) {
    if (name !== 'typescript' && !imports.packages.has(name)) {
      problems.push(`dependency ${name} is imported by no module file`)
    }
  }

  // Without a pin the lockfile present decides, and with none the runtime falls back to yarn: npm's is expected.
  const lockName = LOCKFILES[pinned?.[1] ?? 'npm']
  if (!lockName) return [...problems, `no lockfile check for ${pinned?.[1]}: pin npm`]
  const lockPath = join(moduleDir, lockName)
  if (!existsSync(lockPath)) return [...problems, `no ${lockName} next to the module's package.json`]
  const lock = readJson<Lockfile>(lockPath)
  if (lock.lockfileVersion !== 3) problems.push(`${lockName} must be lockfileVersion 3`)
  const rootEntry = lock.packages?.[''] ?? {}
  if (
    !sameRecord(rootEntry.dependencies, dependencies) ||
    !sameRecord(rootEntry.devDependencies, devDependencies)
  ) {
    problems.push(`${lockName} disagrees with package.json: regenerate it (see docs/ci-cd.md)`)
  }
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path === '') continue
    if (entry.link) problems.push(`${lockName}: ${path} is a link, not a published package`)
    else if (!entry.version || !entry.integrity?.startsWith('sha512-')) {
      problems.push(`${lockName}: ${path} has no version or sha512 integrity`)
    }
    if (entry.resolved && !entry.resolved.startsWith(NPM_REGISTRY)) {
      problems.push(`${lockName}: ${path} resolved outside the npm registry (${entry.resolved})`)
    }
  }
  for (const name of Object.keys({ ...dependencies, ...devDependencies })) {
    if (!lock.packages?.[`node_modules/${name}`]) problems.push(`${lockName} does not lock ${name}`)
  }
  return problems
}
