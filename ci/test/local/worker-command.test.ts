import { describe, expect, it } from 'vitest'
import { WORKER_COMMAND } from '../../../infra/src/commands.js'
import { WORKER_ARGS } from '../../src/local/processes.js'

describe('the local worker', () => {
  it('starts as its task definition starts it (the same V8 heap ceiling)', () => {
    expect(['node', ...WORKER_ARGS]).toEqual(WORKER_COMMAND)
  })
})
