// Runs the Pulumi program without an engine: Pulumi's own mocks stand in for AWS, every resource
// registration is recorded as `{ type, name, inputs }`. Shared by the inventory command and the tests.
import * as pulumi from '@pulumi/pulumi'
import { readStackFile } from './stack-file.js'

export interface InventoryItem {
  type: string
  name: string
  inputs: Record<string, unknown>
}

export const MOCK_ACCOUNT_ID = '123456789012'
export const REDACTED = '[secret]'

// Pulumi's wire marker for a secret value (sdk/nodejs/runtime/rpc.ts: specialSecretSig).
const SECRET_SIGNATURE = '1b47061264138c4ac30d75fd1eb44270'
const SIG_KEY = '4dabf18193072939515e22adb298388d'

/** Replaces every secret-marked input by a placeholder: the inventory is printed and stored. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets)
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>
    if (record[SIG_KEY] === SECRET_SIGNATURE) return REDACTED
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, redactSecrets(v)]))
  }
  return value
}

/** Outputs AWS would compute, so that downstream interpolations produce realistic strings. */
const ARN_SERVICE: Record<string, string> = {
  lb: 'elasticloadbalancing',
  cloudwatch: 'cloudwatch',
  vpc: 'ec2',
}
const ID_PREFIX: Record<string, string> = {
  'aws:ec2/subnet:Subnet': 'subnet-',
  'aws:ec2/securityGroup:SecurityGroup': 'sg-',
  'aws:ec2/vpc:Vpc': 'vpc-',
}

/** A stable hex id per name, shaped like AWS's (`subnet-0a1b...`). */
function hexOf(name: string): string {
  let hash = 2166136261
  for (const char of name) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0
  return hash.toString(16).padStart(8, '0') + '0'.repeat(9)
}

export function mockId(type: string, name: string): string {
  const prefix = ID_PREFIX[type]
  return prefix ? `${prefix}${hexOf(name)}` : `${name}-id`
}

function computedState(type: string, name: string, inputs: Record<string, unknown>, region: string) {
  const module = type.split(':')[1]?.split('/')[0] ?? 'mock'
  const arn = `arn:aws:${ARN_SERVICE[module] ?? module}:${region}:${MOCK_ACCOUNT_ID}:${name}`
  const state: Record<string, unknown> = { arn, name: inputs.name ?? name }
  switch (type) {
    case 'aws:rds/instance:Instance':
      state.address = `${inputs.identifier}.abcdefghij.${region}.rds.amazonaws.com`
      state.port = inputs.port ?? 5432
      state.endpoint = `${state.address}:${state.port}`
      break
    case 'aws:elasticache/replicationGroup:ReplicationGroup':
      state.primaryEndpointAddress = `master.${inputs.replicationGroupId}.abcdef.use1.cache.amazonaws.com`
      break
    case 'aws:lb/loadBalancer:LoadBalancer':
      state.dnsName = `${inputs.name}-1234567890.${region}.elb.amazonaws.com`
      state.arnSuffix = `app/${inputs.name}/0123456789abcdef`
      break
    case 'aws:lb/targetGroup:TargetGroup':
      state.arnSuffix = `targetgroup/${inputs.name}/0123456789abcdef`
      break
    case 'aws:iam/policy:Policy':
      state.arn = `arn:aws:iam::${MOCK_ACCOUNT_ID}:policy/${inputs.name ?? name}`
      break
    case 'aws:ecs/taskDefinition:TaskDefinition':
      state.arn = `arn:aws:ecs:${region}:${MOCK_ACCOUNT_ID}:task-definition/${inputs.family}:1`
      state.revision = 1
      break
    case 'aws:ecs/service:Service':
      state.arn = `arn:aws:ecs:${region}:${MOCK_ACCOUNT_ID}:service/${inputs.name}`
      break
    case 'aws:ecr/repository:Repository':
      state.repositoryUrl = `${MOCK_ACCOUNT_ID}.dkr.ecr.${region}.amazonaws.com/${inputs.name}`
      break
    case 'aws:s3/bucket:Bucket':
      state.bucket = inputs.bucket
      break
    case 'aws:kms/key:Key':
      state.keyId = `${name}-key-id`
      break
    case 'random:index/randomId:RandomId':
      state.hex = hexOf(name).slice(0, Number(inputs.byteLength ?? 4) * 2)
      break
    case 'random:index/randomPassword:RandomPassword':
      state.result = `mock-${name}-${'x'.repeat(Number(inputs.length ?? 16))}`.slice(
        0,
        Number(inputs.length ?? 16),
      )
      break
  }
  return state
}

/**
 * Sets mocks and the stack's configuration (from `Pulumi.<stack>.yaml`). Call BEFORE importing the
 * program. `overrides` replace raw config values (full keys, structured values JSON-encoded).
 * Returns the list that fills up as resources register.
 */
export async function installMocks(
  stack: string,
  overrides: Record<string, string> = {},
): Promise<InventoryItem[]> {
  const raw = { ...readStackFile(stack), ...overrides }
  const region = raw['aws:region'] ?? 'us-east-1'
  const inventory: InventoryItem[] = []
  pulumi.runtime.setAllConfig(raw)
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        // Components (the program's concerns) group resources; they are not AWS resources.
        if (args.custom === false) return { id: `${args.name}-component`, state: {} }
        inventory.push({
          type: args.type,
          name: args.name,
          inputs: redactSecrets(args.inputs) as Record<string, unknown>,
        })
        return {
          id: mockId(args.type, args.name),
          state: { ...args.inputs, ...computedState(args.type, args.name, args.inputs, region) },
        }
      },
      call(args) {
        switch (args.token) {
          case 'aws:index/getCallerIdentity:getCallerIdentity':
            return {
              accountId: MOCK_ACCOUNT_ID,
              arn: `arn:aws:iam::${MOCK_ACCOUNT_ID}:user/mock`,
              userId: 'mock',
            }
          default:
            throw new Error(`no mock for call ${args.token}`)
        }
      },
    },
    'whatsapp-saas',
    stack,
    false,
  )
  recordRegistrations()
  return inventory
}

/** What the engine receives for one resource: its URN, and the URNs its aliases stand for. */
export interface Registration {
  type: string
  name: string
  custom: boolean
  urn: string
  /** The parent's URN; empty at the stack root. */
  parent: string
  /** Each alias as a URN (Pulumi's resolution of an alias spec: unset parts are the resource's own). */
  aliases: string[]
}

const registered: Registration[] = []

/** Every resource registration so far, with the URN the engine keys state by and its aliases. */
export function registrations(): Registration[] {
  return [...registered]
}

/** The URN of `type`/`name` under a parent URN ('' = the stack root), as the Pulumi engine forms it. */
export function urnOf(type: string, name: string, parent: string): string {
  const parentType = parent === '' ? '' : `${parent.split('::')[2]!.split('$').pop()}$`
  return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${parentType}${type}::${name}`
}

// Pulumi's mocks drop the aliases of a registration, the very thing that decides whether a resource that
// moved under a component is replaced; the request itself carries them.
interface AliasSpecMessage {
  getName(): string
  getType(): string
  getParenturn(): string
  getNoparent(): boolean
}
interface RegisterRequest {
  getType(): string
  getName(): string
  getParent(): string
  getCustom(): boolean
  getAliasesList(): { getUrn(): string; getSpec(): AliasSpecMessage | undefined }[]
}

function recordRegistrations(): void {
  registered.length = 0
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(request: RegisterRequest, callback: (...args: unknown[]) => void): unknown
  }
  const register = monitor.registerResource.bind(monitor)
  monitor.registerResource = (request, callback) => {
    const type = request.getType()
    const name = request.getName()
    const parent = request.getParent()
    const aliases = request.getAliasesList().map((alias) => {
      const spec = alias.getSpec()
      if (!spec) return alias.getUrn()
      const aliasParent = spec.getNoparent() ? '' : spec.getParenturn() || parent
      return urnOf(spec.getType() || type, spec.getName() || name, aliasParent)
    })
    registered.push({
      type,
      name,
      custom: request.getCustom(),
      urn: urnOf(type, name, parent),
      parent,
      aliases,
    })
    return register(request, callback)
  }
}

/** Waits until every registration the program started has reached the mocks. */
export async function settle(): Promise<void> {
  await pulumi.runtime.disconnect()
}

/** Resolves a Pulumi output (or plain value) under mocks. */
export function resolve<T>(value: pulumi.Input<T>): Promise<T> {
  return new Promise((done) => {
    pulumi.output(value).apply((v) => {
      done(v as T)
      return v
    })
  })
}

/**
 * The stack outputs of the imported program module, resolved, by Pulumi's rule for an ESM program: its
 * default export when it has one (and then nothing else), else its named exports.
 */
export async function resolveProgramOutputs(
  module: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  if ('default' in module && Object.keys(module).length !== 1)
    throw new Error('the program must have either a default export or named exports, not both')
  const program = ('default' in module ? module.default : module) as Record<string, unknown>
  const outputs: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(program)) outputs[key] = await resolve(value as never)
  return outputs
}
