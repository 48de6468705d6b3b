import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'

/**
 * Everything a smoke or load run needs to know about the deployment it exercises.
 * Only `baseUrl` is required; each check or scenario that needs more says so when it is missing.
 */
export interface TargetEnv {
  baseUrl: string
  /** Tenant API key (secret). */
  apiKey?: string
  /** Platform admin token (secret). */
  adminToken?: string
  /** Meta app secret, signs webhook bodies (secret). */
  appSecret?: string
  /** Webhook verify token for the GET handshake (secret). */
  verifyToken?: string
  /**
   * Meta phone_number_id the sending checks and scenarios use. Only ever a number whose Graph API is a fake
   * one (the pipeline's synthetic tenant on AWS, the demo number locally): they send from it.
   */
  phoneNumberId?: string
}

export const TARGET_ENV_KEYS = [
  'baseUrl',
  'apiKey',
  'adminToken',
  'appSecret',
  'verifyToken',
  'phoneNumberId',
] as const satisfies readonly (keyof TargetEnv)[]

export type TargetEnvKey = (typeof TARGET_ENV_KEYS)[number]

/** Values never shown in output. */
export const SECRET_KEYS: readonly TargetEnvKey[] = ['apiKey', 'adminToken', 'appSecret', 'verifyToken']

/** `apiKey` -> `API_KEY`, so `SMOKE_API_KEY` / `LOAD_API_KEY`. */
export function envVarName(prefix: string, key: TargetEnvKey): string {
  return `${prefix}_${key.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase()}`
}

export interface ResolveTargetEnvInput {
  /** Highest precedence: values given in code or on the command line. */
  explicit?: Partial<TargetEnv>
  /** Environment variables, read as `<prefix>_BASE_URL` etc. */
  env?: NodeJS.ProcessEnv
  envPrefix: string
  /** A JSON file in the shape of `.pipeline/local/env.json`; lowest precedence. */
  envFile?: string
}

/** Merges explicit values over environment variables over an env file; fails on a missing or invalid base URL. */
export async function resolveTargetEnv(input: ResolveTargetEnvInput): Promise<TargetEnv> {
  const fromFile = input.envFile ? await readEnvFile(input.envFile) : {}
  const fromEnv: Partial<TargetEnv> = {}
  for (const key of TARGET_ENV_KEYS) {
    const value = input.env?.[envVarName(input.envPrefix, key)]
    if (value) fromEnv[key] = value
  }
  const merged: Partial<TargetEnv> = { ...fromFile }
  for (const source of [fromEnv, input.explicit ?? {}]) {
    for (const key of TARGET_ENV_KEYS) {
      const value = source[key]
      if (value) merged[key] = value
    }
  }
  if (!merged.baseUrl) {
    throw new Error(
      `no base URL: pass --base-url, set ${envVarName(input.envPrefix, 'baseUrl')}, or give --env-file with "baseUrl"`,
    )
  }
  return { ...merged, baseUrl: normaliseUrl(merged.baseUrl, 'baseUrl') }
}

async function readEnvFile(path: string): Promise<Partial<TargetEnv>> {
  let parsed: unknown
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'))
  } catch (error) {
    throw new Error(`cannot read env file ${path}: ${(error as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`env file ${path} is not a JSON object`)
  const values: Partial<TargetEnv> = {}
  for (const key of TARGET_ENV_KEYS) {
    const value = (parsed as Record<string, unknown>)[key]
    if (typeof value === 'string' && value !== '') values[key] = value
    else if (typeof value === 'number') values[key] = String(value)
  }
  return values
}

function normaliseUrl(value: string, name: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new Error(`${name} is not a URL: ${value}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`${name} must be http(s): ${value}`)
  return url.toString().replace(/\/+$/, '')
}

/** True when the URL points at this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackUrl(value: string): boolean {
  const host = new URL(value).hostname.replace(/^\[|\]$/g, '')
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host)
}

/** A copy safe to print: secrets replaced by `***`. */
export function redactTargetEnv(env: TargetEnv): Record<string, string> {
  const shown: Record<string, string> = {}
  for (const key of TARGET_ENV_KEYS) {
    const value = env[key]
    if (value !== undefined) shown[key] = SECRET_KEYS.includes(key) ? '***' : value
  }
  return shown
}

/**
 * A path given on the command line, relative to where the user typed the command: `npm run -w <ws>` runs the
 * script inside the workspace directory and keeps the original directory in INIT_CWD.
 */
export function resolveCliPath(path: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.INIT_CWD ?? process.cwd(), path)
}

/**
 * The npm script ends in `--` so that Node 20 does not take our `--env-file` for its own (it reads that flag
 * anywhere on the command line, even after the script, and exits when the file is not found relative to it).
 */
export function scriptArguments(argv: string[] = process.argv): string[] {
  const args = argv.slice(2)
  return args[0] === '--' ? args.slice(1) : args
}
