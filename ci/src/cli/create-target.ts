import { join, resolve } from 'node:path'
import type { Target, Tools } from '../core/types.js'

/** The repository root (this file is ci/src/cli/create-target.ts). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..')

export interface TargetSelection {
  target: 'local' | 'aws'
  /** Default `local` for the local target; `staging` or `production` on AWS. */
  stack?: string
  repoRoot?: string
  /** `.pipeline` of the repository by default (PIPELINE_DIR overrides); the local state is `<dir>/local`. */
  pipelineDir?: string
  /** Local target: entry port (LOCAL_ENTRY_PORT, 8080) and replicas (LOCAL_REPLICAS, 2). */
  entryPort?: number
  replicas?: number
  readyTimeoutMs?: number
}

export function pipelineDirOf(selection: Pick<TargetSelection, 'pipelineDir' | 'repoRoot'>): string {
  return (
    selection.pipelineDir ?? process.env.PIPELINE_DIR ?? join(selection.repoRoot ?? REPO_ROOT, '.pipeline')
  )
}

function numberFrom(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`${name} must be a non-negative integer (got "${raw}")`)
  return value
}

/**
 * The Target for `--target local|aws`. Each is loaded only when chosen, so the local path never loads the
 * AWS SDK.
 */
export async function createTarget(selection: TargetSelection): Promise<Target> {
  const repoRoot = selection.repoRoot ?? REPO_ROOT
  if (selection.target === 'local') {
    const { createLocalTarget } = await import('../local/target.js')
    return createLocalTarget({
      repoRoot,
      stateDir: join(pipelineDirOf(selection), 'local'),
      stack: selection.stack ?? 'local',
      entryPort: selection.entryPort ?? numberFrom('LOCAL_ENTRY_PORT', 8080),
      replicas: selection.replicas ?? numberFrom('LOCAL_REPLICAS', 2),
      readyTimeoutMs: selection.readyTimeoutMs ?? numberFrom('LOCAL_READY_TIMEOUT_MS', 60_000),
    })
  }
  if (!selection.stack) throw new Error('--target aws needs --stack staging|production')
  const { createAwsTarget } = await import('../aws/target.js')
  return createAwsTarget({ stack: selection.stack, repoRoot, stateDir: pipelineDirOf(selection) })
}

/** Host tools for a target: a local release for `local`, a container image for `aws`. */
export async function createTools(selection: TargetSelection): Promise<Tools> {
  const repoRoot = selection.repoRoot ?? REPO_ROOT
  const { createHostTools } = await import('../tools/host-tools.js')
  const stateDir = join(pipelineDirOf(selection), 'local')
  if (selection.target === 'local') {
    const { ReleaseStore } = await import('../local/release-store.js')
    const { localLayout } = await import('../local/state-layout.js')
    const layout = localLayout(stateDir)
    const store = new ReleaseStore(layout.releases, layout.registry)
    return createHostTools({
      repoRoot,
      cacheFile: layout.buildCache,
      packager: async (version) => {
        const { path: _path, ...artifact } = store.package(repoRoot, version)
        return artifact
      },
      // Three scenarios, each warmed up, measured (~10 s) and followed by the workers' drain.
      loadMaxDurationS: numberFrom('LOAD_MAX_DURATION_S', 60),
    })
  }
  const { packageImage } = await import('../tools/image-packager.js')
  return createHostTools({
    repoRoot,
    cacheFile: join(pipelineDirOf(selection), 'build-cache.json'),
    packager: (version, ctx) => packageImage(repoRoot, version, ctx),
    loadMaxDurationS: numberFrom('LOAD_MAX_DURATION_S', 60),
    allowRemoteLoad: true,
  })
}
