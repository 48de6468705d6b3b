import { describe, expect, it } from 'vitest'
import { type MessageStatusState, nextStatusState } from '../src/inbound/status-transition.js'

const t = (seconds: number) => new Date(seconds * 1000)
const queued: MessageStatusState = {
  status: 'SENDING',
  sentAt: null,
  deliveredAt: null,
  readAt: null,
  failedAt: null,
}

function replay(events: [string, number][]): MessageStatusState {
  let state = queued
  for (const [status, at] of events)
    state = nextStatusState(state, { status: status as never, at: t(at) }) ?? state
  return state
}

describe('nextStatusState', () => {
  it('moves forward through sent, delivered, read', () => {
    expect(
      replay([
        ['sent', 1],
        ['delivered', 2],
        ['read', 3],
      ]),
    ).toEqual({
      status: 'READ',
      sentAt: t(1),
      deliveredAt: t(2),
      readAt: t(3),
      failedAt: null,
    })
  })

  it('keeps delivered when a late sent arrives', () => {
    expect(
      replay([
        ['delivered', 2],
        ['sent', 1],
      ]).status,
    ).toBe('DELIVERED')
    expect(nextStatusState(replay([['delivered', 2]]), { status: 'sent', at: t(1) })).toBeNull()
  })

  it('fills deliveredAt from read when delivered never came', () => {
    const state = replay([
      ['sent', 1],
      ['read', 5],
    ])
    expect(state).toMatchObject({ status: 'READ', deliveredAt: t(5), readAt: t(5) })
  })

  it('ignores delivered after read', () => {
    expect(nextStatusState(replay([['read', 5]]), { status: 'delivered', at: t(4) })).toBeNull()
  })

  it('treats a duplicate as no change', () => {
    expect(nextStatusState(replay([['read', 5]]), { status: 'read', at: t(5) })).toBeNull()
  })

  it('keeps READ when failed arrives after read, and DELIVERED after delivered', () => {
    expect(nextStatusState(replay([['read', 5]]), { status: 'failed', at: t(6) })).toBeNull()
    expect(nextStatusState(replay([['delivered', 5]]), { status: 'failed', at: t(6) })).toBeNull()
  })

  it('makes failed terminal before delivery', () => {
    const failed = replay([
      ['sent', 1],
      ['failed', 2],
    ])
    expect(failed).toMatchObject({ status: 'FAILED', failedAt: t(2) })
    expect(nextStatusState(failed, { status: 'delivered', at: t(3) })).toBeNull()
    expect(nextStatusState(failed, { status: 'read', at: t(3) })).toBeNull()
  })

  it('never changes an inbound message', () => {
    expect(nextStatusState({ ...queued, status: 'RECEIVED' }, { status: 'read', at: t(1) })).toBeNull()
  })
})
