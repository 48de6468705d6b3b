import { describe, expect, it } from 'vitest'
import { runOpsCli } from '../../src/ops/cli.js'

describe('ops usage', () => {
  it('prints the usage with --help and exits 0; rejects unknown flags with one line', async () => {
    const stderr: string[] = []
    const stdout: string[] = []
    const io = { stderr: (l: string) => stderr.push(l), stdout: (l: string) => stdout.push(l) }
    expect(await runOpsCli(['--help'], {}, io)).toBe(0)
    expect(stderr[0]).toMatch(/^usage: node dist\/ops\/main.js <command>/)
    expect(JSON.parse(stdout[0]!).commands).toEqual([
      'backup',
      'verify-backup',
      'restore',
      'migrate',
      'migration-status',
      'seed',
    ])
    expect(await runOpsCli(['backup', '--frobnicate'], {}, io)).toBe(1)
    expect(JSON.parse(stdout.at(-1)!).error).toMatch(/Unknown option '--frobnicate'/)
  })
})
