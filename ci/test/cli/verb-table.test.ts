import { describe, expect, it } from 'vitest'
import { AWS_VERBS } from '../../src/aws/verbs.js'
import { parseCommandLine } from '../../src/cli/command-line.js'
import { main } from '../../src/cli/main.js'
import { COMMON_FLAGS, VERBS, type VerbName } from '../../src/cli/verb-table.js'

const verbs = Object.keys(VERBS) as VerbName[]

async function run(argv: string[]) {
  const out: string[] = []
  const err: string[] = []
  // A signal of the test's own: main installs no SIGINT handler and nothing here reaches a target.
  const code = await main(argv, {
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    signal: new AbortController().signal,
  })
  return { code, out: out.join('\n'), err: err.join('\n'), firstError: err[0] }
}

describe('the verb table drives the CLI', () => {
  it('lists every verb of the operator guide, including the ones only the AWS entry had', () => {
    expect(verbs).toEqual([
      'deploy',
      'rollback',
      'backup',
      'restore',
      'migrate',
      'verify',
      'costs',
      'diagnose',
      'failover',
      'restart',
      'switch-database',
      'local',
      'drill',
    ])
  })

  it.each(verbs)('%s --help lists the verb and each of its flags, exit 0', async (verb) => {
    const { code, out } = await run([verb, '--help'])
    expect(code).toBe(0)
    expect(out).toContain(`${verb}`)
    expect(out).toContain(VERBS[verb].summary)
    const spec = VERBS[verb] as (typeof VERBS)[VerbName] & { noStack?: boolean }
    const expected = [
      ...Object.keys(spec.flags),
      ...Object.keys(COMMON_FLAGS).filter((name) => !(name === 'stack' && spec.noStack)),
    ]
    for (const flag of expected) expect(out).toMatch(new RegExp(`--${flag}\\b`))
    if (!spec.noStack) expect(out).toContain('--stack')
  })

  it('--help lists every verb with every flag, generated from the table', async () => {
    const { code, out } = await run(['--help'])
    expect(code).toBe(0)
    for (const verb of verbs) {
      const own = await run([verb, '--help'])
      expect(out).toContain(own.out)
    }
    expect(out).toContain('exit codes: 0 success, 1 failure, 2 usage error, 3 rolled back')
  })

  it.each(verbs)('%s with an unknown flag is one usage error, exit 2', async (verb) => {
    const { code, firstError, err } = await run([
      verb,
      ...(verb === 'local' ? ['status'] : []),
      '--no-such-flag',
    ])
    expect(code).toBe(2)
    expect(firstError).toMatch(/^error: Unknown option '--no-such-flag'/)
    expect(err).toContain(`usage: npx tsx ci/src/cli/main.ts ${verb}`)
  })

  it('refuses an unknown verb, no verb, and a flag of the other target with exit 2 before acting', async () => {
    const unknown = await run(['launch'])
    expect(unknown.code).toBe(2)
    expect(unknown.firstError).toBe('error: unknown verb "launch"')
    expect(unknown.err).toContain('verbs: deploy, rollback, backup')
    expect((await run([])).code).toBe(2)
    const local = await run(['backup', '--manual'])
    expect(local.code).toBe(2)
    expect(local.firstError).toBe('error: --manual applies to --target aws only')
    const awsOnly = await run(['failover', '--target', 'local', '--database'])
    expect(awsOnly.code).toBe(2)
    expect(awsOnly.firstError).toBe('error: failover runs on --target aws only')
    expect((await run(['drill', '--target', 'aws'])).firstError).toBe(
      'error: drill runs on --target local only',
    )
    expect((await run(['local'])).firstError).toBe('error: local needs one of up, down, status')
    expect((await run(['local', 'sideways'])).code).toBe(2)
    expect((await run(['deploy', '--target', 'aws'])).firstError).toBe(
      'error: deploy --target aws needs --stack staging|production',
    )
    expect((await run(['restore'])).firstError).toBe(
      'error: restore needs exactly one of --backup, --snapshot, --point-in-time',
    )
    expect((await run(['switch-database'])).firstError).toBe('error: switch-database needs --instance <id>')
  })

  it('resolves defaults: local target and stack, staging for AWS operator verbs', () => {
    const line = (argv: string[]) => {
      const parsed = parseCommandLine(argv)
      if (parsed.kind !== 'run') throw new Error('not a run')
      return parsed.invocation
    }
    expect(line(['deploy'])).toMatchObject({ verb: 'deploy', target: 'local', stack: 'local' })
    expect(line(['verify'])).toMatchObject({ target: 'aws', stack: 'staging' })
    expect(line(['backup', '--target', 'aws', '--manual'])).toMatchObject({
      target: 'aws',
      stack: 'staging',
      flags: { manual: true, snapshot: undefined },
    })
    expect(line(['local', 'up'])).toMatchObject({ verb: 'local', subcommand: 'up' })
  })

  it('sends every verb that runs on AWS, other than the pipeline ones, to an AWS operator verb', () => {
    const awsVerbs = verbs.filter(
      (verb) =>
        (VERBS[verb].targets as readonly string[]).includes('aws') && verb !== 'deploy' && verb !== 'migrate',
    )
    expect([...AWS_VERBS].sort()).toEqual(awsVerbs.sort())
  })
})
