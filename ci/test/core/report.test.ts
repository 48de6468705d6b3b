import { describe, expect, it } from 'vitest'
import { type Report, reportProblems } from '../../src/core/report.js'
import { STAGES } from '../../src/core/types.js'

const at = '2026-11-29T10:00:00.000Z'
const valid: Report = {
  runId: 'r1',
  target: 'local',
  stack: 'local',
  status: 'succeeded',
  startedAt: at,
  finishedAt: at,
  artifact: { ref: 'local/whatsapp-saas-api', digest: `sha256:${'a'.repeat(64)}`, version: 'abc' },
  url: 'http://127.0.0.1:8080',
  stages: STAGES.map((name) => ({
    name,
    status: 'succeeded',
    startedAt: at,
    durationMs: 1,
    summary: name,
    details: {},
  })),
}

describe('the report schema', () => {
  it('lists the eleven stages in order', () => {
    expect(STAGES).toEqual([
      'build',
      'test',
      'package',
      'publish',
      'provision',
      'backup',
      'migrate',
      'rollout',
      'smoke',
      'load',
      'report',
    ])
  })

  it('accepts a report of the pipeline', () => {
    expect(reportProblems(valid)).toEqual([])
  })

  it('refuses an unknown key, a wrong status and a stage out of order or missing', () => {
    expect(reportProblems({ ...valid, steps: [] }).join()).toMatch(/steps/)
    expect(reportProblems({ ...valid, status: 'passed' })).not.toEqual([])
    expect(reportProblems({ ...valid, stages: [...valid.stages].reverse() }).join()).toMatch(
      /expected build, test/,
    )
    expect(reportProblems({ ...valid, stages: valid.stages.slice(1) })).not.toEqual([])
    const renamed = valid.stages.map((s) => (s.name === 'load' ? { ...s, name: 'k6' } : s))
    expect(reportProblems({ ...valid, stages: renamed })).not.toEqual([])
  })
})
