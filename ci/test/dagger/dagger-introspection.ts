// Runs the Dagger TypeScript SDK's own introspector (the code the engine runs to register a module) on
// the module's files, with no engine: the TypeScript AST pass only. The SDK does not export it, so it is
// loaded by file path from the installed @dagger.io/dagger package.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

export interface IntrospectedArgument {
  name: string
  type?: { kind: string; name?: string }
  isOptional: boolean
  isNullable: boolean
  defaultPath?: string
  ignore?: string[]
  defaultValue?: unknown
}

export interface IntrospectedFunction {
  name: string
  cache?: string
  isCheck: boolean
  isUp: boolean
  arguments: Record<string, IntrospectedArgument>
  returnType?: { kind: string; name?: string }
}

export interface IntrospectedConstructor {
  arguments: Record<string, IntrospectedArgument>
}

export interface IntrospectedModule {
  name: string
  objects: Record<
    string,
    {
      methods: Record<string, IntrospectedFunction>
      /** Every class field, exposed (`@func()`) or private: what the runtime serializes between calls. */
      properties: Record<string, { name: string; type?: { kind: string; name?: string }; isExposed: boolean }>
      /** The main object's constructor: its arguments are `dagger call`'s module-level flags. */
      _constructor?: IntrospectedConstructor
    }
  >
}

function sdkDistDir(): string {
  // The package's main entry is dist/src/index.js; the introspector sits beside it.
  const require = createRequire(import.meta.url)
  return dirname(require.resolve('@dagger.io/dagger'))
}

/**
 * The SDK resolves core types (Directory, Secret, ...) from a file named `client.gen.ts`, which the
 * engine generates next to the module. The installed declaration file is the same API: copy it under
 * that name, beside a link to the `common` folder it imports from.
 */
function clientBindings(dir: string): string {
  const dist = sdkDistDir()
  mkdirSync(join(dir, 'api'), { recursive: true })
  symlinkSync(join(dist, 'common'), join(dir, 'common'))
  const client = join(dir, 'api', 'client.gen.ts')
  copyFileSync(join(dist, 'api', 'client.gen.d.ts'), client)
  return client
}

export async function introspectModule(files: string[], moduleName: string): Promise<IntrospectedModule> {
  const dir = mkdtempSync(join(tmpdir(), 'dagger-introspection-'))
  try {
    const client = clientBindings(dir)
    const introspector = await import(
      pathToFileURL(join(sdkDistDir(), 'module', 'introspector', 'index.js')).href
    )
    // loadModule=false: the AST pass only, nothing of the module is executed.
    return (await introspector.scan([...files, client], moduleName, false)) as IntrospectedModule
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
