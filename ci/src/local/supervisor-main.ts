import { createScrubber } from '../core/scrub.js'
import { localLayout } from './state-layout.js'
import { runSupervisor } from './supervisor.js'
import { createLocalTarget } from './target.js'

// The supervisor as a detached process of the local environment: REPO_ROOT and STATE_DIR (required), plus the
// target's own LOCAL_* settings so restarted processes get the environment the rollout gave them.
const repoRoot = process.env.REPO_ROOT
const stateDir = process.env.STATE_DIR
if (!repoRoot || !stateDir) {
  process.stderr.write('REPO_ROOT and STATE_DIR must be set\n')
  process.exit(1)
}
const target = createLocalTarget({
  repoRoot,
  stateDir,
  entryPort: Number(process.env.LOCAL_ENTRY_PORT ?? 8080),
  ...(process.env.LOCAL_DRAIN_TIMEOUT_MS
    ? { drainTimeoutMs: Number(process.env.LOCAL_DRAIN_TIMEOUT_MS) }
    : {}),
})
const controller = new AbortController()
process.once('SIGTERM', () => controller.abort())
process.once('SIGINT', () => controller.abort())
const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`)
log(`supervising ${stateDir}`)
await runSupervisor({
  layout: localLayout(stateDir),
  respawn: target.respawn,
  scrub: createScrubber(target.secretValues?.() ?? []),
  log,
  signal: controller.signal,
})
log('supervisor stopped')
