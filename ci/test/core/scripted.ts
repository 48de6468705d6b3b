import type {
  Artifact,
  DeployLock,
  LoadOutcome,
  OpsCommand,
  OpsResult,
  RolloutResult,
  RunContext,
  SmokeOutcome,
  SmokeRunner,
  Target,
  Tools,
} from '../../src/core/types.js'

import { OPS_LINES } from './ops-lines.js'

export { destructiveStatus, OPS_LINES, opsFailure } from './ops-lines.js'

// A Target and Tools whose every answer is scripted by the test and whose every call is recorded,
// so the core's ordering, gates and rollback decisions can be asserted without a real environment.

export const BUILT: Artifact = {
  ref: 'local/whatsapp-saas-api',
  digest: `sha256:${'b'.repeat(64)}`,
  version: 'new1234',
}
export const SERVING: Artifact = {
  ref: 'local/whatsapp-saas-api',
  digest: `sha256:${'a'.repeat(64)}`,
  version: 'old1234',
}

export interface Script {
  preflight?: () => Promise<string[]>
  lock?: () => Promise<DeployLock>
  ops?: (command: OpsCommand) => Promise<OpsResult>
  rollout?: (artifact: Artifact) => Promise<RolloutResult>
  rollback?: (to?: Artifact) => Promise<RolloutResult>
  current?: Artifact
  smoke?: () => Promise<SmokeOutcome>
  load?: () => Promise<LoadOutcome>
  build?: () => Promise<{ summary: string }>
  secrets?: string[]
}

export const okOps = async (command: OpsCommand): Promise<OpsResult> => {
  switch (command.name) {
    case 'backup':
      return { exitCode: 0, output: ['backup done'], result: OPS_LINES.backup }
    case 'verify-backup':
      return { exitCode: 0, output: ['verified'], result: OPS_LINES['verify-backup'] }
    case 'migration-status':
      return { exitCode: 0, output: [], result: OPS_LINES['migration-status'] }
    case 'migrate':
      return { exitCode: 0, output: ['applied'], result: OPS_LINES.migrate }
    default:
      return { exitCode: 0, output: [], result: {} }
  }
}

export function scripted(script: Script = {}) {
  const calls: string[] = []
  let serving: Artifact | undefined = script.current
  const target: Target = {
    name: 'local',
    stack: 'test',
    async preflight() {
      calls.push('preflight')
      return script.preflight ? script.preflight() : ['scripted target ready']
    },
    async acquireLock() {
      calls.push('lock')
      const lock = script.lock ? await script.lock() : { release: async () => undefined }
      return {
        release: async () => {
          calls.push('unlock')
          await lock.release()
        },
      }
    },
    async publish(artifact) {
      calls.push(`publish ${artifact.version}`)
      return artifact
    },
    async provision(ctx: RunContext) {
      calls.push(`provision${ctx.dryRun ? ' (plan)' : ''}`)
      return { summary: 'provisioned', outputs: { url: 'http://127.0.0.1:1' } }
    },
    async runOps(command) {
      calls.push(`ops ${command.name}`)
      return (script.ops ?? okOps)(command)
    },
    async rollout(artifact) {
      calls.push(`rollout ${artifact.version}`)
      const result = script.rollout
        ? await script.rollout(artifact)
        : { status: 'succeeded' as const, previous: serving, current: artifact, summary: 'rolled out' }
      if (result.status === 'succeeded') serving = artifact
      return result
    },
    async rollback(_ctx, to) {
      calls.push(`rollback ${to?.version ?? 'previous'}`)
      const result = script.rollback
        ? await script.rollback(to)
        : { status: 'succeeded' as const, current: to, summary: 'restored' }
      if (result.status === 'succeeded') serving = to
      return result
    },
    async current() {
      return serving
    },
    async baseUrl() {
      return 'http://127.0.0.1:1'
    },
    secretValues: () => script.secrets ?? [],
  }
  const smoke: SmokeRunner = async () => {
    calls.push('smoke')
    return script.smoke ? script.smoke() : { passed: true, summary: '7 passed', details: {} }
  }
  const tools: Tools = {
    smoke,
    async build() {
      calls.push('build')
      return script.build ? script.build() : { summary: 'built' }
    },
    async test() {
      calls.push('test')
      return { summary: 'tested' }
    },
    async package() {
      calls.push('package')
      return BUILT
    },
    async load() {
      calls.push('load')
      return script.load
        ? script.load()
        : {
            runner: 'autocannon',
            passed: true,
            exitCode: 0,
            thresholds: { p95: { value: 5, limit: '<50', ok: true } },
          }
    },
  }
  return { calls, target, tools, serving: () => serving }
}
