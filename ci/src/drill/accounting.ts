import type pg from 'pg'
import type { Ledger } from './load.js'

// What the drill checks once the faults are over: every acknowledged request left its trace in the database
// (lost otherwise), none left two (duplicates), and Meta (the fake Graph API's request log) received each
// message at most once (double sends).

/** One call recorded by the fake Graph API (GET /__fake/requests). */
export interface GraphRequest {
  path: string
  method: string
  httpStatus: number
  callbackData?: string | null
  wamid?: string | null
  dropped?: boolean
}

export interface Accounting {
  acknowledgedSends: number
  acknowledgedInbound: number
  /** Acknowledged, then missing from the database. */
  lost: number
  lostIds: string[]
  /** More than one row for one acknowledged request (extra rows counted). */
  duplicates: number
  /** Messages Meta accepted more than once (extra sends counted). */
  doubleSends: number
  doubleSentIds: string[]
  /** Acknowledged sends not at Meta yet (still queued or retrying): late, not lost. */
  notYetSent: number
  /** Acknowledged inbound webhooks stored raw but not processed into a message yet: late, not lost. */
  inboundPending: number
}

/** Reads the fake Graph API's request log. */
export async function graphRequests(fakeGraphUrl: string): Promise<GraphRequest[]> {
  const response = await fetch(`${fakeGraphUrl.replace(/\/+$/, '')}/__fake/requests`)
  if (!response.ok) throw new Error(`fake Graph API request log answered ${response.status}`)
  const body = (await response.json()) as GraphRequest[] | { requests?: GraphRequest[] }
  return Array.isArray(body) ? body : (body.requests ?? [])
}

const isSendCall = (r: GraphRequest) => r.method === 'POST' && /\/messages$/.test(r.path.split('?')[0]!)

/** A send Meta took: answered 200 (or dropped on the wire after it was accepted). */
const accepted = (r: GraphRequest) =>
  isSendCall(r) && (r.httpStatus === 200 || (r.dropped === true && !!r.wamid))

export async function account(db: pg.ClientBase, ledger: Ledger, graph: GraphRequest[]): Promise<Accounting> {
  const sendIds = [...new Set(ledger.sends.map((s) => s.id))]
  const wamids = [...new Set(ledger.inbound)]

  const storedSends = await db.query<{ id: string }>('SELECT id FROM "Message" WHERE id = ANY($1)', [sendIds])
  const foundSends = new Set(storedSends.rows.map((r) => r.id))
  const lostSends = sendIds.filter((id) => !foundSends.has(id))

  // The unique keys make a second row impossible for the same key or wamid; a replay that slipped past them
  // (a resend without its key) would be a second outbound row carrying the same unique text.
  const markers = [...new Set(ledger.sends.map((s) => s.marker))]
  const rowsPerMarker = await db.query<{ n: string }>(
    `SELECT count(m.id) AS n FROM unnest($1::text[]) AS k
     JOIN "Message" m ON m.direction = 'OUTBOUND' AND strpos(m.content::text, k) > 0
     GROUP BY k`,
    [markers],
  )
  const storedInbound = await db.query<{ wamid: string; n: string }>(
    `SELECT wamid, count(*) AS n FROM "Message" WHERE direction = 'INBOUND' AND wamid = ANY($1) GROUP BY wamid`,
    [wamids],
  )
  const inboundRows = new Map(storedInbound.rows.map((r) => [r.wamid, Number(r.n)]))
  const unprocessed = wamids.filter((w) => !inboundRows.has(w))
  // Not processed yet is not lost while the raw webhook is stored: the worker will get to it.
  const rawStored =
    unprocessed.length === 0
      ? new Set<string>()
      : new Set(
          (
            await db.query<{ wamid: string }>(
              `SELECT w AS wamid FROM unnest($1::text[]) AS w
               WHERE EXISTS (SELECT 1 FROM "InboundWebhook" i WHERE strpos(i.raw::text, w) > 0)`,
              [unprocessed],
            )
          ).rows.map((r) => r.wamid),
        )
  const lostInbound = unprocessed.filter((w) => !rawStored.has(w))

  const perMessage = new Map<string, number>()
  for (const r of graph) {
    if (!accepted(r) || !r.callbackData) continue
    perMessage.set(r.callbackData, (perMessage.get(r.callbackData) ?? 0) + 1)
  }
  const doubleSentIds = sendIds.filter((id) => (perMessage.get(id) ?? 0) > 1)
  const duplicates =
    rowsPerMarker.rows.reduce((extra, r) => extra + Number(r.n) - 1, 0) +
    [...inboundRows.values()].reduce((extra, n) => extra + (n - 1), 0)

  return {
    acknowledgedSends: sendIds.length,
    acknowledgedInbound: wamids.length,
    lost: lostSends.length + lostInbound.length,
    lostIds: [...lostSends, ...lostInbound],
    duplicates,
    doubleSends: doubleSentIds.reduce((extra, id) => extra + (perMessage.get(id)! - 1), 0),
    doubleSentIds,
    notYetSent: sendIds.filter((id) => foundSends.has(id) && !perMessage.has(id)).length,
    inboundPending: unprocessed.length - lostInbound.length,
  }
}
