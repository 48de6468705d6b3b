// The one table of the CLI's verbs and flags. Parsing (util.parseArgs), the usage checks and `--help` are all
// derived from it, so what the help says and what the CLI accepts cannot drift apart.

export type TargetName = 'local' | 'aws'

export interface FlagSpec {
  type: 'string' | 'boolean'
  short?: string
  /** The value's placeholder in the help (string flags). */
  value?: string
  help: string
  /** The one target the flag applies to; absent: every target of the verb. */
  only?: TargetName
  /** Checks a string value; returns the problem, or undefined when the value is fine. */
  check?: (value: string) => string | undefined
}

export interface VerbSpec {
  summary: string
  /** The targets the verb runs on; the first is the default of `--target`. */
  targets: readonly [TargetName, ...TargetName[]]
  /** Words after the verb (`local up`); exactly one is required when present. */
  subcommands?: readonly string[]
  flags: Readonly<Record<string, FlagSpec>>
  /** Groups of flags of which exactly one must be given (on `only`'s target when set). */
  exactlyOne?: readonly { flags: readonly string[]; only?: TargetName }[]
  /** On AWS `--stack` must be named (a deploy never guesses its environment); otherwise it defaults to staging. */
  stackRequiredOnAws?: boolean
  /** The verb takes no `--stack` (it acts on the one local environment). */
  noStack?: boolean
}

/** Flags every verb takes; `--stack` unless the verb says `noStack`. */
export const COMMON_FLAGS = {
  target: { type: 'string', value: 'local|aws', help: 'where the verb acts' },
  stack: { type: 'string', value: 'name', help: 'the environment' },
  json: { type: 'boolean', help: 'machine-readable result on stdout' },
  help: { type: 'boolean', short: 'h', help: "this verb's help" },
} as const satisfies Record<string, FlagSpec>

/** Flags of every verb that runs through the AWS operator verbs. */
const AWS_OPERATOR_FLAGS = {
  outputs: {
    type: 'string',
    value: 'file',
    only: 'aws',
    help: 'stack outputs from this JSON file instead of Pulumi (AWS_STACK_OUTPUTS_FILE)',
  },
  region: { type: 'string', value: 'region', only: 'aws', help: 'AWS region of the clients' },
} as const satisfies Record<string, FlagSpec>

const DIGEST_REF = 'ref@sha256:…'

function isoTimeOrLatest(value: string): string | undefined {
  if (value === 'latest' || !Number.isNaN(new Date(value).getTime())) return undefined
  return `--point-in-time must be an ISO time or "latest" (got ${value})`
}

export const VERBS = {
  deploy: {
    summary:
      'the pipeline: build → test → package → publish → provision → backup → migrate → rollout → smoke → load → report',
    targets: ['local', 'aws'],
    stackRequiredOnAws: true,
    flags: {
      image: {
        type: 'string',
        value: DIGEST_REF,
        help: 'deploy this published artifact (promotion: build, test, package, publish skipped)',
      },
      'dry-run': {
        type: 'boolean',
        help: 'print the plan (stages, artifact, pending migrations); change nothing',
      },
      'allow-destructive': { type: 'boolean', help: 'approve migrations that drop, rename or retype' },
      'skip-load': { type: 'boolean', help: 'skip the load stage' },
      load: { type: 'boolean', help: 'load-test where the target does not by default (production)' },
    },
  },
  rollback: {
    summary: 'back to the previous version (or the given one), under the deploy lock',
    targets: ['local', 'aws'],
    flags: {
      to: { type: 'string', value: DIGEST_REF, help: 'the version to return to' },
      'dry-run': { type: 'boolean', only: 'aws', help: 'say what would change; change nothing' },
      ...AWS_OPERATOR_FLAGS,
    },
  },
  backup: {
    summary: 'back up the database and verify the backup',
    targets: ['local', 'aws'],
    flags: {
      manual: { type: 'boolean', only: 'aws', help: 'a verified dump through the image, kept in S3' },
      snapshot: { type: 'boolean', only: 'aws', help: 'an RDS snapshot' },
      list: { type: 'boolean', only: 'aws', help: 'the dumps kept' },
      ...AWS_OPERATOR_FLAGS,
    },
    exactlyOne: [{ flags: ['manual', 'snapshot', 'list'], only: 'aws' }],
  },
  restore: {
    summary: 'restore a backup (AWS: a snapshot or a point in time into a NEW instance)',
    targets: ['local', 'aws'],
    flags: {
      backup: { type: 'string', value: 'id|latest', help: 'the backup to restore in place' },
      force: { type: 'boolean', help: 'restore over a database that has data' },
      snapshot: {
        type: 'string',
        value: 'id',
        only: 'aws',
        help: 'restore this RDS snapshot into a new instance',
      },
      'point-in-time': {
        type: 'string',
        value: 'iso|latest',
        only: 'aws',
        help: 'restore this moment into a new instance',
        check: isoTimeOrLatest,
      },
      ...AWS_OPERATOR_FLAGS,
    },
    exactlyOne: [{ flags: ['backup', 'snapshot', 'point-in-time'] }],
  },
  migrate: {
    summary: 'backup, verify, safety verdict, then migrate with that image (default: the serving one)',
    targets: ['local', 'aws'],
    stackRequiredOnAws: true,
    flags: {
      image: { type: 'string', value: DIGEST_REF, help: 'the release whose migrations apply' },
      'allow-destructive': { type: 'boolean', help: 'approve migrations that drop, rename or retype' },
    },
  },
  verify: {
    summary: 'checklist of the deployed stack against its design',
    targets: ['aws'],
    flags: { ...AWS_OPERATOR_FLAGS },
  },
  costs: {
    summary: 'actual spend of the stack',
    targets: ['aws'],
    flags: {
      detailed: { type: 'boolean', help: 'per usage type' },
      forecast: { type: 'boolean', help: "the month's forecast" },
      recommend: { type: 'boolean', help: 'savings recommendations' },
      ...AWS_OPERATOR_FLAGS,
    },
  },
  diagnose: {
    summary: 'stopped tasks, events, unhealthy targets, alarms, connections',
    targets: ['aws'],
    flags: { ...AWS_OPERATOR_FLAGS },
  },
  failover: {
    summary: 'Multi-AZ failover to the standby / replica, waited',
    targets: ['aws'],
    flags: {
      database: { type: 'boolean', help: 'the RDS instance' },
      redis: { type: 'boolean', help: 'the ElastiCache replication group' },
      ...AWS_OPERATOR_FLAGS,
    },
    exactlyOne: [{ flags: ['database', 'redis'] }],
  },
  restart: {
    summary: 'new tasks on the same revisions (they re-read secrets), followed',
    targets: ['aws'],
    flags: { ...AWS_OPERATOR_FLAGS },
  },
  'switch-database': {
    summary: 'a restored instance takes the serving identifier; services restarted',
    targets: ['aws'],
    flags: {
      instance: { type: 'string', value: 'id', help: 'the restored instance' },
      ...AWS_OPERATOR_FLAGS,
    },
    exactlyOne: [{ flags: ['instance'] }],
  },
  local: {
    summary:
      'up: start what is stopped and the release that served last; down: stop every process (data kept); status: what runs',
    targets: ['local'],
    subcommands: ['up', 'down', 'status'],
    noStack: true,
    flags: {},
  },
  drill: {
    summary: 'fault drills on the local target under steady load (deploys first if not up)',
    targets: ['local'],
    noStack: true,
    flags: {},
  },
} as const satisfies Record<string, VerbSpec>

export type VerbName = keyof typeof VERBS

export function isVerb(name: string): name is VerbName {
  return Object.hasOwn(VERBS, name)
}
