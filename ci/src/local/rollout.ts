import { freePort } from '@whatsapp-saas/local-services'
import type { Artifact, RolloutResult, RunContext } from '../core/types.js'
import type { LocalContext } from './context.js'
import { switchUpstreams } from './entry-proxy-client.js'
import { readState, writeState } from './environment-state.js'
import { isAlive } from './pid-probe.js'
import { logTail, stopProcess, waitUntilHealthy } from './process-control.js'
import type { LocalProcesses, ReplicaRecord } from './processes.js'
import type { ServiceConfig } from './service-config.js'
import { renice, STARTING_NICENESS, warmUp } from './warm-start.js'

// The local rollout: the new version's replicas start beside the serving ones, the entry URL switches to
// them once they are ready and warm, and the old processes drain.

/** Starts a version beside whatever serves, switches the entry URL to it once ready, and drains the old one. */
export async function replaceVersion(
  local: LocalContext,
  config: ServiceConfig,
  processes: LocalProcesses,
  artifact: Artifact,
  ctx: RunContext,
  /** Work the replicas' warm-up waits for (the first rollout's seed); a failure fails the rollout. */
  beforeWarmUp: Promise<void> = Promise.resolve(),
): Promise<RolloutResult> {
  const { layout, replicaCount, entryUrl } = local
  const began = Date.now()
  const state = readState(layout.processes)
  const env = config.serviceEnv(state, artifact.version)
  const old = state.serving
  const previous = old?.artifact
  const started: ReplicaRecord[] = []
  const stopNew = async () => {
    await Promise.all(started.map((r) => stopProcess(r.pid, 2_000)))
  }
  // With a version serving: one replica at a time, at a low CPU priority until warm, so that the serving
  // version keeps the CPU it needs. With none (a first deploy, or after `local down`): no one to protect, so
  // every replica starts at once at normal priority.
  const protectServing = old?.replicas.some((r) => isAlive(r.pid)) ?? false
  // Handled here (and awaited below), so a failure before any replica awaits it is not an unhandled rejection.
  const prepared = beforeWarmUp.then(
    () => undefined,
    (error: unknown) => ({ error }),
  )
  const hotPaths = async () => {
    const failure = await prepared
    if (failure) throw failure.error
    const apiKey = config.secrets().apiKey
    return [
      { path: '/health' },
      { path: '/api/v1/status' },
      ...(apiKey
        ? [{ path: '/api/v1/messages?limit=1', headers: { authorization: `Bearer ${apiKey}` } }]
        : []),
    ]
  }
  let warmMs = 0
  const unsettled: number[] = []
  const startReplica = async (index: number): Promise<void> => {
    const replica = processes.spawnReplica(artifact, env, await freePort())
    started.push(replica)
    if (protectServing) renice(replica.pid, STARTING_NICENESS)
    ctx.log.info(
      `replica ${index + 1}/${replicaCount} of ${artifact.version} starting on port ${replica.port} (pid ${replica.pid})`,
    )
    await waitUntilHealthy({
      url: `http://127.0.0.1:${replica.port}/health`,
      pid: replica.pid,
      logFile: replica.logFile,
      logFrom: replica.logFrom,
      timeoutMs: local.readyTimeoutMs,
      signal: ctx.signal,
    })
    const warm = await warmUp(`http://127.0.0.1:${replica.port}`, await hotPaths())
    warmMs += warm.ms
    if (!warm.settled) unsettled.push(warm.lastRoundMaxMs)
  }
  try {
    if (protectServing) for (let i = 0; i < replicaCount; i++) await startReplica(i)
    else {
      // Every start is awaited (settled) before a failure is reported, so that none is left unrecorded.
      const outcomes = await Promise.allSettled(
        Array.from({ length: replicaCount }, (_, i) => startReplica(i)),
      )
      const failed = outcomes.find((outcome) => outcome.status === 'rejected')
      if (failed) throw failed.reason
    }
    if (protectServing)
      for (const r of started)
        if (!renice(r.pid, 0))
          ctx.log.warn(
            `replica pid ${r.pid} keeps niceness ${STARTING_NICENESS} (no privilege to restore it)`,
          )
  } catch (error) {
    // Nothing of this rollout keeps running once it returned: the seed (if any) ends first.
    await prepared
    await stopNew()
    const reason = (error as Error).message
    return {
      status: previous ? 'rolled_back' : 'failed',
      ...(previous ? { previous, current: previous } : {}),
      summary: `${artifact.version} never became ready (${reason}); ${previous ? `${previous.version} keeps serving` : 'nothing serves'}`,
    }
  }
  const readyMs = Date.now() - began
  ctx.log.info(`${replicaCount} replicas ready and warm in ${readyMs} ms (warm-up ${warmMs} ms)`)
  if (unsettled.length > 0)
    ctx.log.warn(
      `replicas still slow after warming (slowest answer of the last round: ${unsettled.join(', ')} ms): the machine is busy`,
    )

  const switched = Date.now()
  let drained: boolean
  try {
    ;({ drained } = await switchUpstreams(
      layout.controlSocket,
      started.map((r) => `http://127.0.0.1:${r.port}`),
    ))
  } catch (error) {
    // Not recorded anywhere yet: stop the new processes rather than leave them running unseen.
    await stopNew()
    return {
      status: previous ? 'rolled_back' : 'failed',
      ...(previous ? { previous, current: previous } : {}),
      summary: `entry proxy could not switch to ${artifact.version} (${(error as Error).message}); ${previous ? `${previous.version} keeps serving` : 'nothing serves'}`,
    }
  }
  const switchMs = Date.now() - switched
  ctx.log.info(
    `entry URL switched to ${artifact.version} (old upstreams ${drained ? 'drained' : 'timed out draining'})`,
  )
  // Read again: the supervisor may have restarted an old process (new pid) since this rollout began.
  const latest = readState(layout.processes)
  const outgoing = latest.serving ?? old
  // The old worker keeps working until the old replicas are drained; the new worker starts after both are
  // gone, so no process start competes for the CPU with the switch (a worker starting costs as much as a
  // replica), and one worker at a time takes the jobs. Recorded without one meanwhile: the supervisor leaves
  // the serving worker slot alone while the deploy lock is held.
  latest.serving = { artifact, replicas: started, since: new Date().toISOString() }
  if (previous && previous.digest !== artifact.digest) latest.previous = previous
  else if (previous) latest.previous ??= previous
  writeState(layout.processes, latest)

  // Old processes: SIGTERM makes them stop accepting and finish what they hold (their graceful shutdown).
  const retired = [...(outgoing?.replicas ?? []), ...(outgoing?.worker ? [outgoing.worker] : [])]
  const stopped = await Promise.all(retired.map((r) => stopProcess(r.pid, local.drainTimeoutMs)))
  const worker = processes.spawnWorker(artifact, env)
  const withWorker = readState(layout.processes)
  if (withWorker.serving?.artifact.digest === artifact.digest) withWorker.serving.worker = worker
  writeState(layout.processes, withWorker)
  if (!isAlive(worker.pid))
    ctx.log.warn(`worker exited right after start: ${logTail(worker.logFile, 5, worker.logFrom)}`)
  return {
    status: 'succeeded',
    ...(previous ? { previous } : {}),
    current: artifact,
    summary: `${artifact.version} serves on ${entryUrl} (${replicaCount} replicas + worker) in ${((Date.now() - began) / 1000).toFixed(1)} s${previous ? `, replacing ${previous.version}` : ''}`,
    details: {
      replicas: started.map((r) => ({ pid: r.pid, port: r.port })),
      readyMs,
      warmMs,
      warmedSlow: unsettled.length,
      switchMs,
      drained,
      rolloutMs: Date.now() - began,
      retired: stopped.length,
      killed: stopped.filter((s) => s === 'killed').length,
    },
  }
}
