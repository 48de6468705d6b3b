import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { RunContext } from '../../src/core/types.js'
import { createHostTools, sourceHash } from '../../src/tools/host-tools.js'

// The build/check fast path: an npm stand-in on PATH records what ran, so the test sees when a build is skipped.
let root: string
let calls: string
const originalPath = process.env.PATH

const ctx: RunContext = {
  runId: 'r',
  target: 'local',
  stack: 'local',
  dryRun: false,
  signal: new AbortController().signal,
  log: { info: () => undefined, warn: () => undefined },
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ci-tools-'))
  calls = join(root, 'calls.log')
  mkdirSync(join(root, 'bin'))
  for (const tool of ['npm', 'npx']) {
    writeFileSync(
      join(root, 'bin', tool),
      `#!/bin/sh\necho "${tool} $*" >> ${calls}\nmkdir -p api/dist && touch api/dist/server.js\n`,
    )
    chmodSync(join(root, 'bin', tool), 0o755)
  }
  // The repository's own biome, as node_modules/.bin holds it.
  mkdirSync(join(root, 'node_modules', '.bin'), { recursive: true })
  writeFileSync(join(root, 'node_modules', '.bin', 'biome'), `#!/bin/sh\necho "biome $*" >> ${calls}\n`)
  chmodSync(join(root, 'node_modules', '.bin', 'biome'), 0o755)
  process.env.PATH = `${join(root, 'bin')}:${originalPath}`
  mkdirSync(join(root, 'api', 'src', 'generated'), { recursive: true })
  writeFileSync(join(root, 'api', 'src', 'server.ts'), 'export {}\n')
  writeFileSync(join(root, 'api', 'package.json'), '{}\n')
})
afterEach(() => {
  process.env.PATH = originalPath
  rmSync(root, { recursive: true, force: true })
})

const ran = () => readFileSync(calls, 'utf8').trim().split('\n')
const tools = (testLevel?: 'fast' | 'full') =>
  createHostTools({
    repoRoot: root,
    cacheFile: join(root, 'cache.json'),
    packager: async (version) => ({ ref: 'x', digest: `sha256:${'0'.repeat(64)}`, version }),
    ...(testLevel ? { testLevel } : {}),
  })

describe('host tools', () => {
  it('counts the build scripts among the build inputs', () => {
    mkdirSync(join(root, 'api', 'scripts'))
    writeFileSync(join(root, 'api', 'scripts', 'bundle-server.mjs'), '// one\n')
    const before = sourceHash(root)
    writeFileSync(join(root, 'api', 'scripts', 'bundle-server.mjs'), '// two\n')
    expect(sourceHash(root)).not.toBe(before)
  })

  it('builds once, then reuses the build while the inputs are unchanged', async () => {
    expect((await tools().build(ctx)).summary).toContain('npm run build -w api')
    expect((await tools().build(ctx)).summary).toContain('unchanged since the last build')
    expect(ran()).toEqual(['npm run build -w api --silent'])
    writeFileSync(join(root, 'api', 'src', 'server.ts'), 'export const changed = 1\n')
    await tools().build(ctx)
    expect(ran()).toHaveLength(2)
  })

  it('ignores generated code and build output in the input hash', () => {
    const before = sourceHash(root)
    writeFileSync(join(root, 'api', 'src', 'generated', 'client.ts'), 'x')
    expect(sourceHash(root)).toBe(before)
  })

  it('runs the fast checks and says what ran; skips them on the same inputs', async () => {
    expect((await tools().test(ctx)).summary).toBe(
      'typecheck of api/src and lint of api passed (full suite runs in CI)',
    )
    // The two run side by side, so either may be first; the type check keeps its incremental state in the cache dir.
    expect(ran().sort()).toEqual([
      'biome lint api',
      `npm run typecheck:src -w api --silent -- --incremental --tsBuildInfoFile ${join(root, 'api-typecheck-src.tsbuildinfo')}`,
    ])
    expect((await tools().test(ctx)).summary).toContain('passed before on the same inputs')
    expect(ran()).toHaveLength(2)
  })

  it('checks the types of the tests too, and runs the suite, at the full level', async () => {
    expect((await tools('full').test(ctx)).summary).toBe('typecheck, lint and test suite of api passed')
    expect(ran().sort()).toEqual([
      'biome lint api',
      `npm run typecheck -w api --silent -- --incremental --tsBuildInfoFile ${join(root, 'api-typecheck.tsbuildinfo')}`,
      'npx vitest run --project api',
    ])
  })

  it('fails the test stage when either check fails, once the other one is stopped', async () => {
    const pidFile = join(root, 'typecheck.pid')
    // A type check that would run long, and a lint that fails once the type check runs.
    writeFileSync(join(root, 'bin', 'npm'), `#!/bin/sh\necho $$ > ${pidFile}\nexec sleep 30\n`)
    writeFileSync(
      join(root, 'node_modules', '.bin', 'biome'),
      `#!/bin/sh\nwhile [ ! -s ${pidFile} ]; do sleep 0.05; done\necho "api/src/a.ts:1:1 lint/style/useConst"\nexit 1\n`,
    )
    await expect(tools().test(ctx)).rejects.toThrow(/biome lint api exited 1: api\/src\/a\.ts:1:1/)
    const pid = Number(readFileSync(pidFile, 'utf8'))
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/)
  })

  it('fails the test stage when either check fails, and stops the other one', async () => {
    writeFileSync(
      join(root, 'node_modules', '.bin', 'biome'),
      '#!/bin/sh\necho "api/src/a.ts:1:1 lint/style/useConst"\nexit 1\n',
    )
    // A type check that would run long: the failing lint stops it.
    writeFileSync(join(root, 'bin', 'npm'), `#!/bin/sh\nexec sleep 30\n`)
    const began = Date.now()
    await expect(tools().test(ctx)).rejects.toThrow(/biome lint api exited 1: api\/src\/a\.ts:1:1/)
    expect(Date.now() - began).toBeLessThan(20_000)
  })

  it('fails the stage with the failing command and its last lines', async () => {
    writeFileSync(join(root, 'bin', 'npm'), '#!/bin/sh\necho "src/a.ts(1,1): error TS2304: nope"\nexit 2\n')
    await expect(tools().build(ctx)).rejects.toThrow(
      'npm run build -w api --silent exited 2: src/a.ts(1,1): error TS2304: nope',
    )
  })
})
