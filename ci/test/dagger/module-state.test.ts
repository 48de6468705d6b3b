// The module's state as the TypeScript SDK runtime carries it between calls, with no engine: the SDK's own
// executor constructs the main object from the constructor arguments, its own `loadResult` turns the
// instance into the JSON the engine stores, and its executor rebuilds the object from that JSON for the
// next call (`dagger call --source=. <function>` is these two calls). A field the runtime did not know
// would fail the first step; a field lost on the way would leave a function without its credentials.
import { readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { type IntrospectedModule, introspectModule } from './dagger-introspection.js'

const MODULE_SOURCE = resolve(import.meta.dirname, '../../dagger')
const SDK_DIST = dirname(createRequire(import.meta.url).resolve('@dagger.io/dagger'))

function moduleFiles(dir = join(MODULE_SOURCE, 'src')): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) return moduleFiles(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

/** A core object as the runtime sees it: something with an ID (what `loadResult` stores). */
const idable = (id: string) => ({ id: async () => id })

interface Executor {
  getResult(object: string, method: string, state: object, inputs: Record<string, unknown>): Promise<unknown>
  buildClass(object: string, state: Record<string, unknown>): Record<string, unknown>
}

describe('module state across calls (SDK runtime, no engine)', () => {
  let scanned: IntrospectedModule
  let executor: Executor
  let loadResult: (result: unknown, module: unknown, object: unknown) => Promise<unknown>

  beforeAll(async () => {
    scanned = await introspectModule(moduleFiles(), 'whatsapp-saas')
    const entry = await import(pathToFileURL(join(MODULE_SOURCE, 'src/index.ts')).href)
    const { Executor } = await import(pathToFileURL(join(SDK_DIST, 'module', 'executor.js')).href)
    ;({ loadResult } = await import(pathToFileURL(join(SDK_DIST, 'module', 'entrypoint', 'load.js')).href))
    executor = new Executor([entry], scanned) as Executor
  }, 120_000)

  /** The constructor call: arguments in the order the runtime passes them, the stored state returned. */
  async function construct(args: Record<string, unknown>): Promise<Record<string, unknown>> {
    const object = scanned.objects.WhatsappSaas!
    const ordered = Object.fromEntries(
      Object.keys(object._constructor!.arguments).map((name) => [name, args[name]]),
    )
    const instance = await executor.getResult('WhatsappSaas', '', {}, ordered)
    const state = (await loadResult(instance, scanned, object)) as Record<string, unknown>
    return JSON.parse(JSON.stringify(state)) // what the engine keeps is JSON
  }

  it('stores the source and every credential given as module flags, and gives them back to the next call', async () => {
    const state = await construct({
      source: idable('directory-id'),
      awsAccessKeyId: idable('key-id'),
      awsSecretAccessKey: idable('secret-id'),
      awsSessionToken: idable('token-id'),
      awsRegion: 'eu-west-1',
      pulumiBackendUrl: 's3://state',
      pulumiConfigPassphrase: idable('passphrase-id'),
    })
    expect(state).toEqual({
      source: 'directory-id',
      awsAccessKeyId: 'key-id',
      awsSecretAccessKey: 'secret-id',
      awsSessionToken: 'token-id',
      awsRegion: 'eu-west-1',
      pulumiBackendUrl: 's3://state',
      pulumiConfigPassphrase: 'passphrase-id',
    })
    // The next call rebuilds the object from that state (IDs turned back into objects by the runtime).
    const rebuilt = executor.buildClass('WhatsappSaas', {
      ...state,
      awsAccessKeyId: idable('key-id'),
      awsSecretAccessKey: idable('secret-id'),
    }) as unknown as { cloudAccess(): { region: string; pulumiBackendUrl?: string; credentials: object } }
    const access = rebuilt.cloudAccess()
    expect(access.region).toBe('eu-west-1')
    expect(access.pulumiBackendUrl).toBe('s3://state')
    expect(Object.keys(access.credentials)).toEqual(['accessKeyId', 'secretAccessKey', 'sessionToken'])
  })

  it('constructs with nothing but the context directory (dagger check, dagger up), region defaulted', async () => {
    const state = await construct({ source: idable('directory-id') })
    expect(state).toEqual({ source: 'directory-id', awsRegion: 'us-east-1' })
  })

  it('refuses half a key pair before any container starts', () => {
    const rebuilt = executor.buildClass('WhatsappSaas', {
      source: idable('directory-id'),
      awsAccessKeyId: idable('key-id'),
      awsRegion: 'us-east-1',
    }) as unknown as { cloudAccess(): unknown }
    expect(() => rebuilt.cloudAccess()).toThrow(/AWS credentials are incomplete/)
  })
})
