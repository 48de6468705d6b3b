// How the module runs the repository's smoke suite (smoke/src/main.ts): base URL and expected version
// on the command line, secrets only as SMOKE_* env variables (smoke/src/target-env.ts reads them).
import type { SecretVariable } from './aws-credentials.js'

export interface SmokeTarget {
  baseUrl: string
  expectVersion?: string | null
}

export function smokeCommand(target: SmokeTarget): string[] {
  const url = new URL(target.baseUrl) // a malformed URL fails here, not after a container started
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`base URL must be http(s): ${target.baseUrl}`)
  return [
    'npm',
    'run',
    '--silent',
    'smoke',
    '-w',
    'smoke',
    '--',
    '--base-url',
    target.baseUrl,
    ...(target.expectVersion ? ['--expect-version', target.expectVersion] : []),
    '--json',
  ]
}

export interface SmokeSecrets<S> {
  apiKey?: S | null
  adminToken?: S | null
  appSecret?: S | null
  verifyToken?: S | null
}

const SMOKE_SECRET_ENV: Record<keyof SmokeSecrets<unknown>, string> = {
  apiKey: 'SMOKE_API_KEY',
  adminToken: 'SMOKE_ADMIN_TOKEN',
  appSecret: 'SMOKE_APP_SECRET',
  verifyToken: 'SMOKE_VERIFY_TOKEN',
}

export function smokeSecretVariables<S>(secrets: SmokeSecrets<S>): SecretVariable<S>[] {
  const variables: SecretVariable<S>[] = []
  for (const key of Object.keys(SMOKE_SECRET_ENV) as (keyof SmokeSecrets<S>)[]) {
    const secret = secrets[key]
    if (secret) variables.push({ name: SMOKE_SECRET_ENV[key], secret })
  }
  return variables
}
