// Turns argv into one checked invocation of the verb table, and renders the help from the same table.
import { parseArgs } from 'node:util'
import {
  COMMON_FLAGS,
  type FlagSpec,
  isVerb,
  type TargetName,
  VERBS,
  type VerbName,
  type VerbSpec,
} from './verb-table.js'

export const CLI_NAME = 'npx tsx ci/src/cli/main.ts'

/** Bad usage: exit code 2, one line naming the problem, then the verb's synopsis. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
  constructor(
    message: string,
    readonly verb?: VerbName,
  ) {
    super(message)
  }
}

export type FlagValues = Readonly<Record<string, string | boolean | undefined>>

export interface Invocation {
  verb: VerbName
  subcommand?: string
  target: TargetName
  stack: string
  json: boolean
  /** The verb's own flags as given (absent when not given). */
  flags: FlagValues
}

export type CommandLine = { kind: 'help'; verb?: VerbName } | { kind: 'run'; invocation: Invocation }

function specOf(verb: VerbName): VerbSpec {
  return VERBS[verb]
}

/** Every flag of the verb, in the help's order: where, the verb's own, then output and help. */
function flagsOf(verb: VerbName): Record<string, FlagSpec> {
  const spec = specOf(verb)
  const { target, stack, json, help } = COMMON_FLAGS
  return {
    target: { ...target, value: spec.targets.join('|') },
    ...(spec.noStack ? {} : { stack }),
    ...spec.flags,
    json,
    help,
  }
}

function given(value: unknown): boolean {
  return value !== undefined && value !== false
}

export function parseCommandLine(argv: readonly string[]): CommandLine {
  const [word, ...rest] = argv
  if (word === undefined) throw new UsageError('no verb given')
  if (word === '--help' || word === '-h' || word === 'help') return { kind: 'help' }
  if (!isVerb(word)) throw new UsageError(`unknown verb "${word}"`)
  const verb = word
  const spec = specOf(verb)
  const flags = flagsOf(verb)
  let values: Record<string, string | boolean | undefined>
  let positionals: string[]
  try {
    const parsed = parseArgs({
      args: [...rest],
      options: Object.fromEntries(
        Object.entries(flags).map(([name, flag]) => [
          name,
          { type: flag.type, ...(flag.short ? { short: flag.short } : {}) },
        ]),
      ),
      allowPositionals: spec.subcommands !== undefined,
      strict: true,
    })
    values = parsed.values
    positionals = parsed.positionals
  } catch (error) {
    throw new UsageError((error as Error).message, verb)
  }
  if (values.help === true) return { kind: 'help', verb }

  const rawTarget = (values.target as string | undefined) ?? spec.targets[0]
  if (rawTarget !== 'local' && rawTarget !== 'aws')
    throw new UsageError(`--target must be local or aws (got "${rawTarget}")`, verb)
  const target: TargetName = rawTarget
  if (!spec.targets.includes(target))
    throw new UsageError(`${verb} runs on --target ${spec.targets.join(' or ')} only`, verb)

  for (const [name, flag] of Object.entries(spec.flags)) {
    const value = values[name]
    if (!given(value)) continue
    if (flag.only && flag.only !== target)
      throw new UsageError(`--${name} applies to --target ${flag.only} only`, verb)
    const problem = typeof value === 'string' ? flag.check?.(value) : undefined
    if (problem) throw new UsageError(problem, verb)
  }

  let subcommand: string | undefined
  if (spec.subcommands) {
    if (positionals.length !== 1 || !spec.subcommands.includes(positionals[0]!))
      throw new UsageError(`${verb} needs one of ${spec.subcommands.join(', ')}`, verb)
    subcommand = positionals[0]
  }

  for (const group of spec.exactlyOne ?? []) {
    if (group.only && group.only !== target) continue
    const count = group.flags.filter((name) => given(values[name])).length
    if (count === 1) continue
    const [only] = group.flags
    throw new UsageError(
      group.flags.length === 1 && only
        ? `${verb} needs ${flagSynopsis(only, spec.flags[only]!)}`
        : `${verb} needs exactly one of ${group.flags.map((name) => `--${name}`).join(', ')}`,
      verb,
    )
  }

  let stack = values.stack as string | undefined
  if (stack === undefined) {
    if (target === 'local') stack = 'local'
    else if (spec.stackRequiredOnAws)
      throw new UsageError(`${verb} --target aws needs --stack staging|production`, verb)
    else stack = 'staging'
  }

  return {
    kind: 'run',
    invocation: {
      verb,
      ...(subcommand ? { subcommand } : {}),
      target,
      stack,
      json: values.json === true,
      flags: Object.fromEntries(Object.keys(spec.flags).map((name) => [name, values[name]])),
    },
  }
}

function flagSynopsis(name: string, flag: FlagSpec): string {
  return flag.type === 'string' ? `--${name} <${flag.value ?? 'value'}>` : `--${name}`
}

/** One line: the verb and every flag it takes. */
export function synopsis(verb: VerbName): string {
  const spec = specOf(verb)
  const words = [
    verb,
    ...(spec.subcommands ? [spec.subcommands.join('|')] : []),
    ...Object.entries(flagsOf(verb))
      .filter(([name]) => name !== 'help')
      .map(([name, flag]) => `[${flagSynopsis(name, flag)}]`),
  ]
  return `${CLI_NAME} ${words.join(' ')}`
}

function targetHelp(spec: VerbSpec): string | undefined {
  return spec.targets.length === 1 ? undefined : `default ${spec.targets[0]}`
}

function stackHelp(spec: VerbSpec): string {
  const aws = spec.stackRequiredOnAws ? 'staging|production, required' : 'staging|production, default staging'
  return spec.targets.includes('local') ? `local: default local; aws: ${aws}` : aws
}

/** The verb's help: summary, then each flag with what it does and where it applies. */
export function verbHelp(verb: VerbName): string {
  const spec = specOf(verb)
  const rows = Object.entries(flagsOf(verb)).map(([name, flag]) => {
    const notes = [
      name === 'target' ? targetHelp(spec) : undefined,
      name === 'stack' ? stackHelp(spec) : undefined,
      flag.only && spec.targets.length > 1 ? `${flag.only} only` : undefined,
    ].filter(Boolean)
    const left = `${flag.short ? `-${flag.short}, ` : ''}${flagSynopsis(name, flag)}`
    return `    ${left.padEnd(30)} ${flag.help}${notes.length ? ` (${notes.join('; ')})` : ''}`
  })
  const groups = (spec.exactlyOne ?? []).map(
    (group) =>
      `    ${group.flags.length === 1 ? 'required:' : 'exactly one of'} ${group.flags.map((name) => `--${name}`).join(', ')}${group.only ? ` (on ${group.only})` : ''}`,
  )
  return [
    `  ${verb}${spec.subcommands ? ` ${spec.subcommands.join('|')}` : ''}: ${spec.summary}`,
    ...rows,
    ...groups,
  ].join('\n')
}

export function fullHelp(): string {
  return [
    `usage: ${CLI_NAME} <verb> [flags]`,
    '       (npm run deploy = deploy; npm run local:up | local:down | local:status | drill)',
    '',
    ...(Object.keys(VERBS) as VerbName[]).flatMap((verb) => [verbHelp(verb), '']),
    'exit codes: 0 success, 1 failure, 2 usage error, 3 rolled back',
  ].join('\n')
}

/** What follows a usage error: the verb's synopsis, or the list of verbs. */
export function usageHint(verb?: VerbName): string {
  const first = verb ? `usage: ${synopsis(verb)}` : `verbs: ${Object.keys(VERBS).join(', ')}`
  return `${first}\n(${CLI_NAME} ${verb ? `${verb} ` : ''}--help for every flag)`
}
