import { startPostgres, startRedis } from '@whatsapp-saas/local-services'
import { readHolder } from './deploy-lock.js'
import { proxyStatus } from './entry-proxy-client.js'
import { readState, writeState } from './environment-state.js'
import { isAlive, postgresPid, redisPid } from './pid-probe.js'
import { probe, stopProcess } from './process-control.js'
import { localLayout } from './state-layout.js'
import { readSupervisorFile, slotKey } from './supervisor.js'

/** Stops every process of the local environment; its data (database, backups, releases, secrets) stays. */
export async function stopLocalEnvironment(stateDir: string): Promise<string[]> {
  const layout = localLayout(stateDir)
  const state = readState(layout.processes)
  const stopped: string[] = []
  // The supervisor first: it would restart the processes stopped below.
  if (state.supervisor && (await stopProcess(state.supervisor.pid, 5_000)) !== 'absent')
    stopped.push(`supervisor (pid ${state.supervisor.pid})`)
  const serving = state.serving
  const services = [
    ...(serving?.replicas ?? []).map((r) => ({ name: `api :${r.port}`, pid: r.pid })),
    ...(serving?.worker ? [{ name: 'worker', pid: serving.worker.pid }] : []),
    ...(state.proxy ? [{ name: `entry proxy :${state.proxy.port}`, pid: state.proxy.pid }] : []),
    ...(state.fakeGraph
      ? [{ name: `fake Graph API :${state.fakeGraph.port}`, pid: state.fakeGraph.pid }]
      : []),
  ]
  await Promise.all(
    services.map(async (s) => {
      if ((await stopProcess(s.pid, 25_000)) !== 'absent') stopped.push(`${s.name} (pid ${s.pid})`)
    }),
  )
  if (redisPid(layout.redis)) {
    await (await startRedis({ dir: layout.redis, persistent: true })).stop()
    stopped.push('Redis')
  }
  if (postgresPid(layout.postgres)) {
    await (await startPostgres({ dataDir: layout.postgres })).stop()
    stopped.push('PostgreSQL')
  }
  const { proxy: _proxy, fakeGraph: _fake, supervisor: _supervisor, ...rest } = state
  // What served stays recorded (the next deploy knows its previous version), but nothing runs any more.
  writeState(layout.processes, {
    ...rest,
    ...(state.serving ? { previous: state.serving.artifact } : {}),
    serving: undefined,
  })
  return stopped
}

export async function localDown(stateDir: string, json: boolean): Promise<number> {
  const stopped = await stopLocalEnvironment(stateDir)
  if (json) process.stdout.write(`${JSON.stringify({ stopped })}\n`)
  else process.stdout.write(stopped.length ? `stopped: ${stopped.join(', ')}\n` : 'nothing was running\n')
  return 0
}

export interface LocalStatus {
  serving: { version: string; digest: string; since: string } | null
  url: string | null
  healthy: boolean
  processes: {
    name: string
    pid: number | null
    port: number | null
    running: boolean
    healthy?: boolean
    /** Restarts by the supervisor, and what the last exit left in the log. */
    restarts?: number
    lastExit?: { at: string; pid: number; cause: string }
  }[]
  proxy?: {
    upstreams: string[]
    unhealthy: string[]
    requests: number
    retried: number
    failed: number
    ejected: number
  }
  lock?: ReturnType<typeof readHolder>
}

export async function collectStatus(stateDir: string): Promise<LocalStatus> {
  const layout = localLayout(stateDir)
  const state = readState(layout.processes)
  const processes: LocalStatus['processes'] = []
  const slots = readSupervisorFile(layout.supervisor).slots
  const supervised = (key: string) => {
    const slot = slots[key]
    return slot ? { restarts: slot.restarts, ...(slot.lastExit ? { lastExit: slot.lastExit } : {}) } : {}
  }
  for (const r of state.serving?.replicas ?? []) {
    const running = isAlive(r.pid)
    processes.push({
      name: `api ${state.serving!.artifact.version}`,
      pid: r.pid,
      port: r.port,
      running,
      healthy: running && (await probe(`http://127.0.0.1:${r.port}/health`)) === 200,
      ...supervised(slotKey('api', r.port)),
    })
  }
  if (state.serving?.worker)
    processes.push({
      name: 'worker',
      pid: state.serving.worker.pid,
      port: null,
      running: isAlive(state.serving.worker.pid),
      ...supervised(slotKey('worker')),
    })
  if (state.supervisor)
    processes.push({
      name: 'supervisor',
      pid: state.supervisor.pid,
      port: null,
      running: isAlive(state.supervisor.pid),
    })
  if (state.proxy)
    processes.push({
      name: 'entry proxy',
      pid: state.proxy.pid,
      port: state.proxy.port,
      running: isAlive(state.proxy.pid),
    })
  if (state.fakeGraph)
    processes.push({
      name: 'fake Graph API',
      pid: state.fakeGraph.pid,
      port: state.fakeGraph.port,
      running: isAlive(state.fakeGraph.pid),
    })
  processes.push({
    name: 'PostgreSQL',
    pid: postgresPid(layout.postgres) ?? null,
    port: state.postgresPort ?? null,
    running: postgresPid(layout.postgres) !== undefined,
  })
  processes.push({
    name: 'Redis',
    pid: redisPid(layout.redis) ?? null,
    port: state.redisPort ?? null,
    running: redisPid(layout.redis) !== undefined,
  })
  const url = state.proxy ? `http://127.0.0.1:${state.proxy.port}` : null
  const healthy = url !== null && isAlive(state.proxy!.pid) && (await probe(`${url}/health`)) === 200
  const proxy =
    state.proxy && isAlive(state.proxy.pid)
      ? await proxyStatus(layout.controlSocket)
          .then((p) => ({
            upstreams: p.upstreams,
            unhealthy: (p.health ?? []).filter((u) => !u.healthy).map((u) => u.origin),
            ...p.stats,
          }))
          .catch(() => undefined)
      : undefined
  const lock = readHolder(layout.lock)
  return {
    serving: state.serving
      ? {
          version: state.serving.artifact.version,
          digest: state.serving.artifact.digest,
          since: state.serving.since,
        }
      : null,
    url,
    healthy,
    processes,
    ...(proxy ? { proxy } : {}),
    ...(lock ? { lock } : {}),
  }
}

export async function localStatus(stateDir: string, json: boolean): Promise<number> {
  const status = await collectStatus(stateDir)
  if (json) {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`)
    return status.healthy ? 0 : 1
  }
  const out: string[] = [
    status.serving
      ? `serving ${status.serving.version} (${status.serving.digest.slice(0, 19)}…) since ${status.serving.since}`
      : 'no version is serving',
    `entry: ${status.url ?? 'not running'} ${status.url ? (status.healthy ? 'healthy' : 'NOT healthy') : ''}`.trimEnd(),
    '',
  ]
  for (const p of status.processes) {
    const health = p.healthy === undefined ? '' : p.healthy ? ' healthy' : ' unhealthy'
    const restarts =
      p.restarts === undefined
        ? ''
        : `  restarts ${p.restarts}${p.lastExit ? ` (last exit ${p.lastExit.at}, pid ${p.lastExit.pid}: ${p.lastExit.cause})` : ''}`
    out.push(
      `  ${p.name.padEnd(24)} ${p.running ? 'running' : 'stopped'}${health}  pid ${p.pid ?? '-'}  port ${p.port ?? '-'}${restarts}`,
    )
  }
  if (status.proxy)
    out.push(
      '',
      `proxy: ${status.proxy.requests} requests, ${status.proxy.retried} retried, ${status.proxy.failed} failed, ${status.proxy.ejected ?? 0} ejections${status.proxy.unhealthy.length ? ` (out of rotation: ${status.proxy.unhealthy.join(', ')})` : ''}`,
    )
  if (status.lock)
    out.push(`deploy in progress: pid ${status.lock.pid} run ${status.lock.runId} since ${status.lock.since}`)
  process.stdout.write(`${out.join('\n')}\n`)
  return status.healthy ? 0 : 1
}
