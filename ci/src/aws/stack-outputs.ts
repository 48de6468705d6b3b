// The Pulumi stack outputs the AWS target and the operator verbs depend on, validated in one place so that a
// mismatch with the infra program is one clear error naming every missing or malformed key.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { AwsTargetError } from './errors.js'

export interface StackOutputs {
  clusterName: string
  apiServiceName: string
  workerServiceName: string
  /** Task definition family used for one-off ops tasks. */
  taskFamily: string
  /**
   * Pulumi's current revisions of the services' task definitions: the ONE source of environment, secrets,
   * CPU and memory. The rollout registers copies of these with only the image changed (or uses them as
   * they are when Pulumi already runs the image being deployed).
   */
  apiTaskDefinitionArn: string
  workerTaskDefinitionArn: string
  privateSubnetIds: string[]
  taskSecurityGroupId: string
  albDnsName: string
  targetGroupArn: string
  /** `<account>.dkr.ecr.<region>.amazonaws.com/<name>` */
  ecrRepositoryUrl: string
  backupBucket: string
  backupKmsKeyArn: string
  databaseEndpoint: string
  dbInstanceId: string
  redisReplicationGroupId: string
  logGroupName: string
  region: string
  url: string
  vpcId: string
  budgetName: string
  alertTopicArn: string
  certificateArn: string
  domain: string
  /**
   * Optional: where the services' tasks run. The infra's `public-task-ips` egress mode puts them in public
   * subnets with a public IP (no NAT); ops tasks must then run the same way to reach ECR. Default: the
   * private subnets without public IP.
   */
  taskSubnetIds?: string[]
  taskAssignPublicIp?: 'ENABLED' | 'DISABLED'
  /** The stack whose program owns the shared image repository and whose passed runs others promote. */
  imageRepositoryOwner?: string
  /** Bucket where the owner stack records the digests it passed (`releases/<digest>.json`). */
  releaseEvidenceBucket?: string
  /** Staging only: the fake Graph API the synthetic tenant's phone number talks to. */
  syntheticGraphApiBaseUrl?: string
  /** Secrets the pipeline reads to ensure the synthetic tenant (values never logged). */
  adminTokenSecretArn?: string
  metaSecretArn?: string
}

type OptionalKey =
  | 'taskSubnetIds'
  | 'taskAssignPublicIp'
  | 'imageRepositoryOwner'
  | 'releaseEvidenceBucket'
  | 'syntheticGraphApiBaseUrl'
  | 'adminTokenSecretArn'
  | 'metaSecretArn'

type Rule = (value: string) => string | undefined

const nonEmpty: Rule = (value) => (value.trim() === '' ? 'is empty' : undefined)
const pattern =
  (regex: RegExp, expected: string): Rule =>
  (value) =>
    regex.test(value) ? undefined : `must be ${expected} (got "${value}")`
const arn = (service: string) => pattern(new RegExp(`^arn:aws[a-z-]*:${service}:`), `an ${service} ARN`)

type RequiredKey = Exclude<keyof StackOutputs, OptionalKey>

const RULES: Record<RequiredKey, Rule> = {
  clusterName: nonEmpty,
  apiServiceName: nonEmpty,
  workerServiceName: nonEmpty,
  taskFamily: pattern(/^[A-Za-z0-9_-]{1,255}$/, 'a task definition family name'),
  apiTaskDefinitionArn: arn('ecs'),
  workerTaskDefinitionArn: arn('ecs'),
  privateSubnetIds: pattern(/^subnet-[0-9a-f]+(,subnet-[0-9a-f]+)*$/, 'comma-separated subnet ids'),
  taskSecurityGroupId: pattern(/^sg-[0-9a-f]+$/, 'a security group id'),
  albDnsName: pattern(/\.elb\.amazonaws\.com$/, 'an ALB DNS name'),
  targetGroupArn: arn('elasticloadbalancing'),
  ecrRepositoryUrl: pattern(
    /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\/[a-z0-9._/-]+$/,
    'an ECR repository URL',
  ),
  backupBucket: pattern(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'),
  backupKmsKeyArn: arn('kms'),
  databaseEndpoint: nonEmpty,
  dbInstanceId: nonEmpty,
  redisReplicationGroupId: nonEmpty,
  logGroupName: nonEmpty,
  region: pattern(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region'),
  url: pattern(/^https?:\/\//, 'a URL'),
  vpcId: pattern(/^vpc-[0-9a-f]+$/, 'a VPC id'),
  budgetName: nonEmpty,
  alertTopicArn: arn('sns'),
  certificateArn: arn('acm'),
  domain: pattern(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'a domain name'),
}

const OPTIONAL_RULES: Record<OptionalKey, Rule> = {
  taskSubnetIds: pattern(/^subnet-[0-9a-f]+(,subnet-[0-9a-f]+)*$/, 'comma-separated subnet ids'),
  taskAssignPublicIp: pattern(/^(ENABLED|DISABLED)$/, 'ENABLED or DISABLED'),
  imageRepositoryOwner: pattern(/^[a-z0-9-]+$/, 'a stack name'),
  releaseEvidenceBucket: pattern(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'),
  syntheticGraphApiBaseUrl: pattern(/^https?:\/\/[^\s]+$/, 'a URL'),
  adminTokenSecretArn: arn('secretsmanager'),
  metaSecretArn: arn('secretsmanager'),
}

export const STACK_OUTPUT_KEYS = Object.keys(RULES) as RequiredKey[]

/** Every problem with raw outputs, one line each; empty when they are complete and well formed. */
export function checkStackOutputs(raw: Record<string, unknown>): string[] {
  const problems: string[] = []
  for (const key of STACK_OUTPUT_KEYS) {
    const value = raw[key]
    if (value === undefined || value === null || value === '') {
      problems.push(`stack output "${key}" is missing`)
      continue
    }
    if (typeof value !== 'string') {
      problems.push(`stack output "${key}" must be a string`)
      continue
    }
    const problem = RULES[key](value)
    if (problem) problems.push(`stack output "${key}" ${problem}`)
  }
  for (const [key, rule] of Object.entries(OPTIONAL_RULES)) {
    const value = raw[key]
    if (value === undefined || value === null || value === '') continue
    const problem = typeof value === 'string' ? rule(value) : 'must be a string'
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
  const text = raw as Record<string, string>
  const outputs = Object.fromEntries(STACK_OUTPUT_KEYS.map((key) => [key, text[key]])) as Record<
    string,
    unknown
  >
  outputs.privateSubnetIds = text.privateSubnetIds!.split(',')
  if (text.taskSubnetIds) outputs.taskSubnetIds = text.taskSubnetIds.split(',')
  for (const key of Object.keys(OPTIONAL_RULES) as OptionalKey[]) {
    if (key !== 'taskSubnetIds' && text[key]) outputs[key] = text[key]
  }
  return outputs as unknown as StackOutputs
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
