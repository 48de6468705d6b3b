import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { createInterface } from 'node:readline'
import type { Artifact, LoadOutcome, RunContext, ServiceEnvironment, Tools } from '../core/types.js'
import { readJson, writeJson } from '../local/json-file.js'
import { runSmokeSuite } from './smoke-runner.js'

export interface HostToolsOptions {
  repoRoot: string
  /** Remembers the input hash of the last good build and check (the no-change fast path). */
  cacheFile: string
  /** Turns the built tree into an artifact (a local release, or an image). */
  packager: (version: string, ctx: RunContext) => Promise<Artifact>
  /** `fast` (default): typecheck + lint of api; `full`: also api's test suite. */
  testLevel?: 'fast' | 'full'
  /** Upper bound of the load stage (default 15 s: a deploy gate, not a benchmark). */
  loadMaxDurationS?: number
  /** Staging and production are not loopback: the pipeline allows them explicitly. */
  allowRemoteLoad?: boolean
}

/** What a build of the service depends on, relative to the repository. Generated code is an output. */
const BUILD_INPUTS = [
  'api/src',
  'api/prisma',
  'api/package.json',
  'api/tsconfig.json',
  'api/scripts',
  'api/prisma.config.ts',
  'package-lock.json',
]
const IGNORED = new Set(['node_modules', 'generated', 'dist'])

function inputFiles(root: string, path: string): string[] {
  const full = join(root, path)
  if (!existsSync(full)) return []
  if (!statSync(full).isDirectory()) return [path]
  return readdirSync(full, { withFileTypes: true }).flatMap((entry) =>
    IGNORED.has(entry.name) ? [] : inputFiles(root, relative(root, join(full, entry.name))),
  )
}

/** sha256 over the build inputs' paths and contents. */
export function sourceHash(repoRoot: string): string {
  const hash = createHash('sha256')
  for (const file of BUILD_INPUTS.flatMap((p) => inputFiles(repoRoot, p)).sort()) {
    hash
      .update(`${file}\0`)
      .update(readFileSync(join(repoRoot, file)))
      .update('\0')
  }
  return hash.digest('hex')
}

/** Git short SHA of HEAD, `-dirty` when the service's sources differ from it. */
export function gitVersion(repoRoot: string): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: repoRoot,
      encoding: 'utf8',
    }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'api', 'package-lock.json'], {
      cwd: repoRoot,
      encoding: 'utf8',
    }).trim()
    return dirty ? `${sha}-dirty` : sha
  } catch {
    return 'unversioned'
  }
}

/** Runs a command, its output lines to the stage log; rejects with the last lines on a non-zero exit. */
export function runLogged(command: string, args: string[], cwd: string, ctx: RunContext): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const tail: string[] = []
    const onLine = (line: string) => {
      if (!line.trim() || line.startsWith('npm warn')) return
      ctx.log.info(line)
      // Box-drawing rules and diff gutters say nothing in a one-line failure reason.
      if (/[━│]/.test(line)) return
      tail.push(line.trim())
      if (tail.length > 5) tail.shift()
    }
    createInterface({ input: child.stdout }).on('line', onLine)
    createInterface({ input: child.stderr }).on('line', onLine)
    const abort = () => child.kill('SIGTERM')
    ctx.signal.addEventListener('abort', abort, { once: true })
    child.once('error', (error) =>
      reject(
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? new Error(`${command} not found: install it (Node.js ${process.version} provides npm and npx)`)
          : error,
      ),
    )
    child.once('close', (code) => {
      ctx.signal.removeEventListener('abort', abort)
      if (code === 0) resolve()
      else reject(new Error(`${[command, ...args].join(' ')} exited ${code}: ${tail.slice(-2).join(' | ')}`))
    })
  })
}

interface BuildCache {
  built?: string
  checked?: { hash: string; level: string }
}

/**
 * Tools on the host: npm/tsc builds the service, biome and tsc check it, the smoke suite runs from smoke/ and
 * the load suite from loadtests/.
 */
export function createHostTools(options: HostToolsOptions): Tools {
  const { repoRoot } = options
  const level = options.testLevel ?? 'fast'
  const cache = () => readJson<BuildCache>(options.cacheFile, {})
  const remember = (update: Partial<BuildCache>) => writeJson(options.cacheFile, { ...cache(), ...update })

  return {
    async build(ctx) {
      const hash = sourceHash(repoRoot)
      if (cache().built === hash && existsSync(join(repoRoot, 'api', 'dist', 'server.js'))) {
        return { summary: `unchanged since the last build (inputs ${hash.slice(0, 12)}): reused api/dist` }
      }
      await runLogged('npm', ['run', 'build', '-w', 'api', '--silent'], repoRoot, ctx)
      remember({ built: hash })
      return {
        summary: `npm run build -w api (prisma generate + esbuild; type-checked by the test stage), inputs ${hash.slice(0, 12)}`,
      }
    },

    async test(ctx) {
      const hash = sourceHash(repoRoot)
      const ran =
        level === 'full' ? 'typecheck, lint and test suite of api' : 'typecheck of api/src and lint of api'
      const last = cache().checked
      if (last?.hash === hash && (last.level === level || last.level === 'full')) {
        return {
          summary: `${ran}: passed before on the same inputs (${hash.slice(0, 12)}); full suite runs in CI`,
        }
      }
      // The one type check of the service (the build only transpiles), and the lint beside it: tsc keeps one
      // core busy, biome the other. tsc's incremental state lives next to the cache file, so a deploy after a
      // change re-checks what changed; without it (a cold deploy) tsc checks everything. The fast level checks
      // the code that ships (api/src, a quarter faster than with the tests); the full level and CI check the
      // tests' types too.
      const typecheck = level === 'full' ? 'typecheck' : 'typecheck:src'
      // A failing check stops the other one (its result would not change the verdict), and the stage ends once
      // both processes are gone.
      const sibling = new AbortController()
      const checks = { ...ctx, signal: AbortSignal.any([ctx.signal, sibling.signal]) }
      let failure: { error: unknown } | undefined
      await Promise.allSettled(
        [
          runLogged(
            'npm',
            [
              'run',
              typecheck,
              '-w',
              'api',
              '--silent',
              '--',
              '--incremental',
              '--tsBuildInfoFile',
              join(dirname(options.cacheFile), `api-${typecheck.replace(':', '-')}.tsbuildinfo`),
            ],
            repoRoot,
            checks,
          ),
          runLogged(join(repoRoot, 'node_modules', '.bin', 'biome'), ['lint', 'api'], repoRoot, checks),
        ].map((check) =>
          check.catch((error: unknown) => {
            failure ??= { error }
            sibling.abort()
          }),
        ),
      )
      if (failure) throw failure.error
      if (level === 'full') await runLogged('npx', ['vitest', 'run', '--project', 'api'], repoRoot, ctx)
      remember({ checked: { hash, level } })
      return { summary: `${ran} passed${level === 'fast' ? ' (full suite runs in CI)' : ''}` }
    },

    async package(ctx) {
      return options.packager(gitVersion(repoRoot), ctx)
    },

    smoke: runSmokeSuite,

    async load(baseUrl: string, ctx: RunContext, env?: ServiceEnvironment): Promise<LoadOutcome> {
      const { runLoad } = await import('@whatsapp-saas/loadtests')
      const report = await runLoad({
        baseUrl,
        env: env ?? { baseUrl },
        maxDurationS: options.loadMaxDurationS ?? 60,
        allowRemote: options.allowRemoteLoad ?? false,
        log: (line) => ctx.log.info(line),
        signal: ctx.signal,
      })
      for (const scenario of report.scenarios)
        ctx.log.info(`${scenario.name}: ${scenario.status} ${scenario.detail}`)
      return {
        runner: report.runner,
        passed: report.passed,
        thresholds: report.thresholds,
        exitCode: report.exitCode,
      }
    },

    async describe() {
      return { version: gitVersion(repoRoot) }
    },
  }
}
