import { join } from 'node:path'

/** Where the local environment keeps its state (`.pipeline/local/` by default; tests use a temp dir). */
export interface LocalLayout {
  root: string
  postgres: string
  redis: string
  /** The environment's CA and the server certificates of PostgreSQL and Redis. */
  tls: string
  backups: string
  releases: string
  logs: string
  /** Published releases (the local registry index). */
  registry: string
  /** Pids, ports and versions of the running processes. */
  processes: string
  secrets: string
  envFile: string
  lock: string
  controlSocket: string
  /** Restarts and last exits recorded by the supervisor. */
  supervisor: string
  /** Hashes of the last successful build and check, for the no-change fast path. */
  buildCache: string
}

export function localLayout(root: string): LocalLayout {
  return {
    root,
    postgres: join(root, 'postgres'),
    redis: join(root, 'redis'),
    tls: join(root, 'tls'),
    backups: join(root, 'backups'),
    releases: join(root, 'releases'),
    logs: join(root, 'logs'),
    registry: join(root, 'registry.json'),
    processes: join(root, 'processes.json'),
    secrets: join(root, 'secrets.json'),
    envFile: join(root, 'env.json'),
    lock: join(root, 'deploy.lock'),
    controlSocket: join(root, 'proxy.sock'),
    supervisor: join(root, 'supervisor.json'),
    buildCache: join(root, 'build-cache.json'),
  }
}
