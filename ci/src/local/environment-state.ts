import type { Artifact } from '../core/types.js'
import { readJson, writeJson } from './json-file.js'

export interface ProcessRecord {
  pid: number
  port?: number
  logFile: string
  /** Where this process's lines start in logFile (logs are appended across runs and restarts). */
  logFrom?: number
  startedAt: string
}

/** One version of the service as it runs: its replicas behind the entry URL and its worker. */
export interface Deployment {
  artifact: Artifact
  replicas: (ProcessRecord & { port: number })[]
  worker?: ProcessRecord
  since: string
}

/** `processes.json`: what the local environment runs, written after every change. */
export interface EnvironmentState {
  proxy?: ProcessRecord & { port: number }
  fakeGraph?: ProcessRecord & { port: number }
  /** Restarts crashed replicas and workers of the serving version (supervisor-main.ts). */
  supervisor?: ProcessRecord
  postgresPort?: number
  redisPort?: number
  serving?: Deployment
  /** What served before `serving`: where a rollback returns to. */
  previous?: Artifact
}

export function readState(path: string): EnvironmentState {
  return readJson<EnvironmentState>(path, {})
}

export function writeState(path: string, state: EnvironmentState): void {
  writeJson(path, state)
}
