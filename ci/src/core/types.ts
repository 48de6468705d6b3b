// The pipeline's ports. The core (stage order, gates, rollback decisions, report) is written once
// against these interfaces; `local` and `aws` implement Target, the host or Dagger implement Tools. The
// core imports no implementation: the CLI (or any other entry) composes them.

export const STAGES = [
  'build',
  'test',
  'package',
  'publish',
  'provision',
  'backup',
  'migrate',
  'rollout',
  'smoke',
  'load',
  'report',
] as const
export type StageName = (typeof STAGES)[number]

/** An immutable build output. From `publish` on, the pipeline only ever carries `ref@digest`. */
export interface Artifact {
  /** Repository reference without tag or digest, e.g. `123.dkr.ecr.us-east-1.amazonaws.com/whatsapp-saas-api` or `local/whatsapp-saas-api`. */
  ref: string
  /** `sha256:<64 hex>`. */
  digest: string
  /** Human version (git SHA), shown by `/api/v1/status`. */
  version: string
}

/** Line-oriented output of a stage; the CLI renders it live, the report keeps the tail. */
export interface StageLog {
  info(line: string): void
  warn(line: string): void
}

export interface RunContext {
  runId: string
  /** The target's name (`Target.name`). */
  target: string
  stack: string
  dryRun: boolean
  log: StageLog
  /** Aborted on Ctrl-C or a stage timeout; every wait must honour it. */
  signal: AbortSignal
}

/** An ops command of the service image, run next to the database (`api/src/ops`). */
export type OpsCommand =
  | { name: 'backup' }
  | { name: 'verify-backup'; backupId: string }
  | { name: 'restore'; backupId: string; force?: boolean }
  /** allowDestructive: the operator approved the destructive pending migrations (`--allow-destructive`). */
  | { name: 'migrate'; maxBackupAgeMinutes: number; allowDestructive?: boolean }
  | { name: 'migration-status' }
  | { name: 'seed' }

export interface OpsResult {
  exitCode: number
  /** The command's output lines (already free of secrets). */
  output: string[]
  /** The last JSON line the command printed, parsed (ops commands end with one). */
  result?: Record<string, unknown>
}

export interface ProvisionResult {
  summary: string
  /** Stack outputs the later stages need (cluster, service, URLs, ...). Never secrets. */
  outputs: Record<string, string>
  /** Planned changes, for `--dry-run`. */
  changes?: string[]
}

export interface RolloutResult {
  status: 'succeeded' | 'failed' | 'rolled_back'
  /** What served before; what rollback() returns to. */
  previous?: Artifact
  current?: Artifact
  summary: string
  details?: Record<string, unknown>
}

export interface DeployLock {
  release(): Promise<void>
}

export interface Target {
  /** Which target this is (`local`, `aws`, ...): shown and reported, never branched on by the core. */
  readonly name: string
  readonly stack: string
  /** Executable pre-deployment checklist; throws with the list of unmet items. */
  preflight(ctx: RunContext): Promise<string[]>
  /** One deploy per environment; rejects with a message naming the current holder. */
  acquireLock(ctx: RunContext): Promise<DeployLock>
  publish(artifact: Artifact, ctx: RunContext): Promise<Artifact>
  /** `artifact`: what this run deploys (a target whose infrastructure names the image sets it there). */
  provision(ctx: RunContext, artifact?: Artifact): Promise<ProvisionResult>
  runOps(command: OpsCommand, artifact: Artifact, ctx: RunContext): Promise<OpsResult>
  rollout(artifact: Artifact, ctx: RunContext): Promise<RolloutResult>
  rollback(ctx: RunContext, to?: Artifact): Promise<RolloutResult>
  /** The artifact serving now, if any. */
  current(ctx: RunContext): Promise<Artifact | undefined>
  /** Base URL for smoke and load (e.g. http://127.0.0.1:8080 or https://api.example.com). */
  baseUrl(ctx: RunContext): Promise<string>
  /**
   * Optional. Resolves the `ref@digest` given to `--image` into a known artifact (with its version);
   * rejects when the target's registry does not hold it. Without it the core derives the artifact from the string.
   */
  resolve?(image: string, ctx: RunContext): Promise<Artifact>
  /** Optional. What smoke and load need beyond the base URL (the env.json of docs/design.md locally). Holds secrets: never logged. */
  environment?(ctx: RunContext): Promise<ServiceEnvironment>
  /** Optional. Secret values the core scrubs from every log line and report. */
  secretValues?(): string[]
  /**
   * Optional. False: the load stage runs only when asked (`PipelineOptions.load`), e.g. production, which
   * receives digests whose load results come from staging (see promotionEvidence). Default true.
   */
  readonly loadByDefault?: boolean
  /**
   * Optional. At a promotion (`--image`): what the artifact passed before (e.g. the staging run's smoke and
   * load results for the same digest), carried in the report. Rejects to refuse the promotion.
   */
  promotionEvidence?(artifact: Artifact, ctx: RunContext): Promise<Record<string, unknown> | undefined>
  /**
   * Optional. Called once a deploy passed every stage it ran: records what passed (e.g. for promotions).
   * Returns where it was recorded.
   */
  recordRelease?(release: PassedRelease, ctx: RunContext): Promise<string | undefined>
}

export interface PassedRelease {
  runId: string
  artifact: Artifact
  smoke: SmokeOutcome
  /** Null when the load stage did not run. */
  load: LoadOutcome | null
}

/**
 * The settings a client of a deployed environment needs (`.pipeline/local/env.json` for the local target).
 * The core reads only `baseUrl` and hands the whole to the Tools' smoke and load; a target adds its own
 * settings (the local target its fake Graph API's URL) for the suites that know them.
 */
export interface ServiceEnvironment {
  baseUrl: string
  adminToken?: string
  apiKey?: string
  appSecret?: string
  verifyToken?: string
  /** A number whose Graph API is a fake one (smoke and load send from it): never a real customer's. */
  phoneNumberId?: string
  readonly [setting: string]: string | undefined
}

/** Outcome of the smoke suite as the pipeline records it. */
export interface SmokeOutcome {
  passed: boolean
  summary: string
  details: Record<string, unknown>
}

/** Runs the smoke suite against a deployed environment (on the host: `runSmoke` of smoke/ behind an adapter). */
export type SmokeRunner = (input: {
  env: ServiceEnvironment
  expectVersion?: string
  signal: AbortSignal
  log: StageLog
}) => Promise<SmokeOutcome>

export interface LoadOutcome {
  runner: 'k6' | 'autocannon'
  passed: boolean
  /** Threshold name -> observed value and verdict. */
  thresholds: Record<string, { value: number; limit: string; ok: boolean }>
  exitCode: number
}

export interface Tools {
  /** Builds the service from source; returns a local, not yet published artifact. */
  build(ctx: RunContext): Promise<{ summary: string }>
  test(ctx: RunContext): Promise<{ summary: string }>
  package(ctx: RunContext): Promise<Artifact>
  /** The smoke suite against the new version; a failed check fails the stage (and rolls back). */
  smoke: SmokeRunner
  /** Runs the k6 scenarios (or the same scenarios with autocannon when k6 is absent). */
  load(baseUrl: string, ctx: RunContext, env?: ServiceEnvironment): Promise<LoadOutcome>
  /** Optional. The version the next build would carry (git SHA), shown by `--dry-run` before anything is built. */
  describe?(ctx: RunContext): Promise<{ version: string }>
}
