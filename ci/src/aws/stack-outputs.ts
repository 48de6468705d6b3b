// The Pulumi stack outputs the AWS target and the operator verbs depend on, validated in one place so that a
// mismatch with the infra program is one clear error naming every missing or malformed key.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { type OutputFormat, STACK_OUTPUTS, type StackOutputName } from '../../../infra/src/stack-outputs.js'
import { AwsTargetError } from './errors.js'

// The list of outputs, their formats and which ones are optional is the infra program's
// (infra/src/stack-outputs.ts); this file only turns it into checks and the `StackOutputs` type.
type Spec = typeof STACK_OUTPUTS
type PipelineKey = {
  [K in StackOutputName]: Spec[K]['readBy'] extends 'pipeline' ? K : never
}[StackOutputName]
type OptionalKey = { [K in PipelineKey]: Spec[K] extends { optional: true } ? K : never }[PipelineKey]
type RequiredKey = Exclude<PipelineKey, OptionalKey>
type ValueOf<F extends OutputFormat> = F extends 'subnetIds'
  ? string[]
  : F extends 'count'
    ? number
    : F extends 'assignPublicIp'
      ? 'ENABLED' | 'DISABLED'
      : string

/** The outputs the AWS target reads (see infra/src/stack-outputs.ts for what each one is). */
export type StackOutputs = { [K in RequiredKey]: ValueOf<Spec[K]['format']> } & {
  [K in OptionalKey]?: ValueOf<Spec[K]['format']>
}

type Rule = (value: string) => string | undefined

const nonEmpty: Rule = (value) => (value.trim() === '' ? 'is empty' : undefined)
const pattern =
  (regex: RegExp, expected: string): Rule =>
  (value) =>
    regex.test(value) ? undefined : `must be ${expected} (got "${value}")`
const arn = (service: string) => pattern(new RegExp(`^arn:aws[a-z-]*:${service}:`), `an ${service} ARN`)

const RULES: Record<Exclude<OutputFormat, `arn:${string}`>, Rule> = {
  text: nonEmpty,
  region: pattern(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region'),
  url: pattern(/^https?:\/\/[^\s]+$/, 'a URL'),
  domain: pattern(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'a domain name'),
  stackName: pattern(/^[a-z0-9-]+$/, 'a stack name'),
  taskFamily: pattern(/^[A-Za-z0-9_-]{1,255}$/, 'a task definition family name'),
  subnetIds: pattern(/^subnet-[0-9a-f]+(,subnet-[0-9a-f]+)*$/, 'comma-separated subnet ids'),
  securityGroupId: pattern(/^sg-[0-9a-f]+$/, 'a security group id'),
  vpcId: pattern(/^vpc-[0-9a-f]+$/, 'a VPC id'),
  albDnsName: pattern(/\.elb\.amazonaws\.com$/, 'an ALB DNS name'),
  ecrRepositoryUrl: pattern(
    /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\/[a-z0-9._/-]+$/,
    'an ECR repository URL',
  ),
  bucketName: pattern(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'),
  s3Url: pattern(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^\s]*)?$/, 'an s3://bucket/prefix URL'),
  count: pattern(/^[1-9]\d*$/, 'a positive integer'),
  assignPublicIp: pattern(/^(ENABLED|DISABLED)$/, 'ENABLED or DISABLED'),
}

function ruleOf(format: OutputFormat): Rule {
  return format.startsWith('arn:') ? arn(format.slice('arn:'.length)) : RULES[format as keyof typeof RULES]
}

const PIPELINE_KEYS = (Object.keys(STACK_OUTPUTS) as StackOutputName[]).filter(
  (key): key is PipelineKey => STACK_OUTPUTS[key].readBy === 'pipeline',
)
const isOptional = (key: PipelineKey) => 'optional' in STACK_OUTPUTS[key]

/** The outputs a stack must have for the AWS target (the optional ones are checked when present). */
export const STACK_OUTPUT_KEYS = PIPELINE_KEYS.filter((key) => !isOptional(key)) as RequiredKey[]

/** Every problem with raw outputs, one line each; empty when they are complete and well formed. */
export function checkStackOutputs(raw: Record<string, unknown>): string[] {
  const problems: string[] = []
  for (const key of PIPELINE_KEYS) {
    const value = raw[key]
    if (value === undefined || value === null || value === '') {
      if (!isOptional(key)) problems.push(`stack output "${key}" is missing`)
      continue
    }
    if (typeof value !== 'string') {
      problems.push(`stack output "${key}" must be a string`)
      continue
    }
    const problem = ruleOf(STACK_OUTPUTS[key].format)(value)
    if (problem) problems.push(`stack output "${key}" ${problem}`)
  }
  return problems
}

export function parseStackOutputs(raw: Record<string, unknown>): StackOutputs {
  const problems = checkStackOutputs(raw)
  if (problems.length > 0) {
    throw new AwsTargetError(
      `stack outputs do not match what the AWS target needs (infra/ must export them): ${problems.join('; ')}`,
    )
  }
  const outputs: Record<string, unknown> = {}
  for (const key of PIPELINE_KEYS) {
    const value = raw[key] as string | undefined
    if (value === undefined || value === null || value === '') continue
    const format = STACK_OUTPUTS[key].format as OutputFormat
    outputs[key] = format === 'subnetIds' ? value.split(',') : format === 'count' ? Number(value) : value
  }
  return outputs as StackOutputs
}

/** The backup store as bucket and key prefix (`s3://bucket/prefix` → `{ bucket, prefix: 'prefix/' }`). */
export function backupStoreLocation(outputs: Pick<StackOutputs, 'backupStore'>): {
  bucket: string
  prefix: string
} {
  const url = new URL(outputs.backupStore)
  const path = url.pathname.replace(/^\/+|\/+$/g, '')
  return { bucket: url.hostname, prefix: path === '' ? '' : `${path}/` }
}

/** Outputs flattened back to strings, the form `ProvisionResult.outputs` carries. */
export function stackOutputsToRecord(outputs: StackOutputs): Record<string, string> {
  const record: Record<string, string> = {}
  for (const [key, value] of Object.entries(outputs)) {
    if (value !== undefined) record[key] = Array.isArray(value) ? value.join(',') : String(value)
  }
  return record
}

/** Where the last provision of a stack left its outputs, so operator verbs work without the Pulumi CLI. */
export function outputsCachePath(stack: string, stateDir = '.pipeline'): string {
  return join(stateDir, 'aws', stack, 'outputs.json')
}

export async function saveOutputsCache(path: string, outputs: Record<string, string>): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, `${JSON.stringify(outputs, null, 2)}\n`)
}

export async function readOutputsFile(path: string): Promise<Record<string, string> | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, string>
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new AwsTargetError(`cannot read stack outputs from ${path}: ${(error as Error).message}`)
  }
}
