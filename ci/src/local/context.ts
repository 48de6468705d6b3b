import { mkdirSync } from 'node:fs'
import type { Artifact } from '../core/types.js'
import { ReleaseStore } from './release-store.js'
import { type LocalLayout, localLayout } from './state-layout.js'

export interface LocalTargetOptions {
  /** The repository (its node_modules serve every release). */
  repoRoot: string
  /** State directory, e.g. `<repo>/.pipeline/local`. */
  stateDir: string
  stack?: string
  /** Port of the stable entry URL (default 8080). */
  entryPort?: number
  /** API replicas per version (default 2). */
  replicas?: number
  /** How long a new version may take to answer /health 200 (default 60 s). */
  readyTimeoutMs?: number
  /** How long an old replica may take to finish its requests after SIGTERM (default 25 s). */
  drainTimeoutMs?: number
}

/** What every concern of the local target shares: where things live and the settings of this environment. */
export interface LocalContext {
  readonly repoRoot: string
  readonly layout: LocalLayout
  readonly store: ReleaseStore
  readonly entryPort: number
  readonly entryUrl: string
  readonly replicaCount: number
  readonly readyTimeoutMs: number
  readonly drainTimeoutMs: number
  /** The directory a release runs from (packaged on first use). */
  releaseDir(artifact: Artifact): string
}

export const DATABASE = 'whatsapp'
/** Meta's id of the demo phone number in the fake Graph API; fixed so env.json stays stable across runs. */
export const DEMO_PHONE_NUMBER_ID = '100000000000001'
export const DEMO_WABA_ID = '200000000000001'

export function localContext(options: LocalTargetOptions): LocalContext {
  const layout = localLayout(options.stateDir)
  const store = new ReleaseStore(layout.releases, layout.registry)
  const entryPort = options.entryPort ?? 8080
  mkdirSync(layout.root, { recursive: true })
  return {
    repoRoot: options.repoRoot,
    layout,
    store,
    entryPort,
    entryUrl: `http://127.0.0.1:${entryPort}`,
    replicaCount: options.replicas ?? 2,
    readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
    drainTimeoutMs: options.drainTimeoutMs ?? 25_000,
    releaseDir(artifact) {
      return (store.find(artifact.digest) ?? store.packaged(artifact)).path
    },
  }
}
