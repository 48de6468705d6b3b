import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestEnvironment, TEST_SECRETS, type TestApp, type TestEnvironment } from './harness/index.js'

let env: TestEnvironment
let t: TestApp
let organizationId: string
const admin = { authorization: `Bearer ${TEST_SECRETS.adminToken}` }

type Method = 'GET' | 'POST' | 'DELETE'
const call = (method: Method, url: string, headers: Record<string, string>, payload?: object) =>
  t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) })
const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

interface Issued {
  id: string
  key: string
  expiresAt: string | null
}

/** A root key, issued by the platform admin. */
async function rootKey(expiresAt?: Date): Promise<Issued> {
  const res = await call('POST', `/api/v1/organizations/${organizationId}/api-keys`, admin, {
    name: 'root',
    ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
  })
  expect(res.statusCode).toBe(201)
  return res.json()
}

async function mint(parent: Issued, expiresAt?: Date): Promise<Issued> {
  const res = await call('POST', '/api/v1/api-keys', bearer(parent.key), {
    name: 'child',
    ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
  })
  expect(res.statusCode).toBe(201)
  return res.json()
}

const works = async (key: Issued) => (await call('GET', '/api/v1/organization', bearer(key.key))).statusCode

beforeAll(async () => {
  env = await startTestEnvironment()
  t = await env.startApp()
  const res = await call('POST', '/api/v1/organizations', admin, { name: 'Lifecycle' })
  organizationId = res.json().id
})
afterAll(async () => {
  await env?.stop()
})

describe('a key minted by another key', () => {
  it('expires no later than its parent', async () => {
    const parentExpiry = new Date(Date.now() + 3_600_000)
    const parent = await rootKey(parentExpiry)
    expect((await mint(parent)).expiresAt).toBe(parentExpiry.toISOString())
    expect((await mint(parent, new Date(Date.now() + 86_400_000))).expiresAt).toBe(parentExpiry.toISOString())
    const sooner = new Date(Date.now() + 60_000)
    expect((await mint(parent, sooner)).expiresAt).toBe(sooner.toISOString())
    // A child of a child is bounded by the whole chain.
    const child = await mint(parent, new Date(Date.now() + 1_800_000))
    expect((await mint(child)).expiresAt).toBe(child.expiresAt)
    // A parent without expiry leaves the child's as asked.
    expect((await mint(await rootKey())).expiresAt).toBeNull()
  })

  it('is revoked with its parent, and so are its own children', async () => {
    const parent = await rootKey()
    const child = await mint(parent)
    const grandchild = await mint(child)
    const sibling = await rootKey()
    expect(await works(grandchild)).toBe(200)
    expect((await call('DELETE', `/api/v1/api-keys/${parent.id}`, bearer(sibling.key))).statusCode).toBe(204)
    expect([await works(parent), await works(child), await works(grandchild)]).toEqual([401, 401, 401])
    expect(await works(sibling)).toBe(200)
  })

  it('is revoked with its parent when the platform admin revokes the parent', async () => {
    const parent = await rootKey()
    const child = await mint(parent)
    const res = await call('DELETE', `/api/v1/organizations/${organizationId}/api-keys/${parent.id}`, admin)
    expect(res.statusCode).toBe(204)
    expect([await works(parent), await works(child)]).toEqual([401, 401])
    const other = await call('POST', '/api/v1/organizations', admin, { name: 'Other' })
    expect(
      (await call('DELETE', `/api/v1/organizations/${other.json().id}/api-keys/${child.id}`, admin))
        .statusCode,
    ).toBe(404)
  })

  it('cannot slip through while its parent is being revoked', async () => {
    const parent = await rootKey()
    const attempts = Array.from({ length: 12 }, (_, i) =>
      call('POST', '/api/v1/api-keys', bearer(parent.key), { name: `racer-${i}` }),
    )
    const revoke = call('DELETE', `/api/v1/api-keys/${parent.id}`, bearer(parent.key))
    const answers = await Promise.all([...attempts, revoke])
    expect(answers.at(-1)!.statusCode).toBe(204)
    const minted = answers.slice(0, -1).filter((r) => r.statusCode === 201)
    for (const res of minted) expect(await works(res.json())).toBe(401)
    const children = await t.prisma.apiKey.findMany({ where: { parentId: parent.id } })
    expect(children.filter((k) => k.revokedAt === null)).toEqual([])
  })
})

describe('rotation', () => {
  it('issues a successor that works alongside the old key, which can then be revoked without downtime', async () => {
    const old = await rootKey(new Date(Date.now() + 7 * 86_400_000))
    const child = await mint(old)
    const res = await call('POST', `/api/v1/api-keys/${old.id}/rotate`, bearer(old.key), {})
    expect(res.statusCode).toBe(201)
    const successor = res.json() as Issued & { replaces: { id: string; expiresAt: string | null } }
    expect(successor.key).toMatch(/^wsk_/)
    expect(successor.expiresAt).toBe(old.expiresAt)
    expect(successor.replaces).toEqual({ id: old.id, expiresAt: old.expiresAt })
    expect([await works(old), await works(successor)]).toEqual([200, 200])
    // The old key goes; the successor and the keys minted by the old one keep working.
    expect((await call('DELETE', `/api/v1/api-keys/${old.id}`, bearer(successor.key))).statusCode).toBe(204)
    expect([await works(old), await works(successor), await works(child)]).toEqual([401, 200, 200])
  })

  it('can retire the old key after an overlap', async () => {
    const old = await rootKey()
    const before = Date.now()
    const res = await call('POST', `/api/v1/api-keys/${old.id}/rotate`, bearer(old.key), {
      retireOldInSeconds: 3600,
    })
    const retiresAt = Date.parse(res.json().replaces.expiresAt)
    expect(retiresAt).toBeGreaterThanOrEqual(before + 3_600_000)
    expect(retiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000)
    const stored = await t.prisma.apiKey.findUniqueOrThrow({ where: { id: old.id } })
    expect(stored.expiresAt?.getTime()).toBe(retiresAt)
    const now = await call('POST', `/api/v1/api-keys/${res.json().id}/rotate`, bearer(res.json().key), {
      retireOldInSeconds: 0,
    })
    expect(await works(res.json())).toBe(401)
    expect(await works(now.json())).toBe(200)
  })

  it('is refused to keys that do not hold or descend into the rotated key', async () => {
    const old = await rootKey()
    const child = await mint(old)
    const stranger = await rootKey()
    for (const caller of [child, stranger]) {
      const res = await call('POST', `/api/v1/api-keys/${old.id}/rotate`, bearer(caller.key), {})
      expect(res.statusCode).toBe(403)
    }
    // An ancestor may rotate a descendant: the successor stays under it.
    const res = await call('POST', `/api/v1/api-keys/${child.id}/rotate`, bearer(old.key), {})
    expect(res.statusCode).toBe(201)
    await call('DELETE', `/api/v1/api-keys/${old.id}`, bearer(old.key))
    expect(await works(res.json())).toBe(401)
  })
})

describe('audit log', () => {
  it('records who did what and when, readable by the platform admin page by page', async () => {
    const org = (await call('POST', '/api/v1/organizations', admin, { name: 'Audited' })).json()
    const root = (
      await call('POST', `/api/v1/organizations/${org.id}/api-keys`, admin, { name: 'root' })
    ).json() as Issued
    const child = await mint(root)
    const rotated = (await call('POST', `/api/v1/api-keys/${child.id}/rotate`, bearer(root.key), {})).json()
    await call('DELETE', `/api/v1/api-keys/${root.id}`, bearer(root.key))

    const seen: Array<{ actor: string; action: string; targetId: string; at: string; details: unknown }> = []
    let cursor: string | null = null
    do {
      const query: string = `organizationId=${org.id}&limit=2${cursor ? `&cursor=${cursor}` : ''}`
      const page = await call('GET', `/api/v1/audit-log?${query}`, admin)
      expect(page.statusCode).toBe(200)
      expect(page.json().data.length).toBeLessThanOrEqual(2)
      seen.push(...page.json().data)
      cursor = page.json().nextCursor
    } while (cursor)

    expect(seen.map((e) => [e.actor, e.action, e.targetId]).reverse()).toEqual([
      ['admin', 'organization.create', org.id],
      ['admin', 'api_key.create', root.id],
      [`api_key:${root.id}`, 'api_key.create', child.id],
      [`api_key:${root.id}`, 'api_key.rotate', child.id],
      [`api_key:${root.id}`, 'api_key.revoke', root.id],
    ])
    expect(seen[0]!.details).toEqual({ revoked: expect.arrayContaining([root.id, rotated.id, child.id]) })
    expect(JSON.stringify(seen)).not.toContain(root.key)
    for (const entry of seen) expect(Date.parse(entry.at)).not.toBeNaN()
  })

  it('is for the platform admin only', async () => {
    const key = await rootKey()
    expect((await call('GET', '/api/v1/audit-log', bearer(key.key))).statusCode).toBe(401)
    expect((await call('GET', '/api/v1/audit-log', {})).statusCode).toBe(401)
  })
})
