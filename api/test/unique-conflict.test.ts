import Fastify from 'fastify'
import { afterAll, describe, expect, it } from 'vitest'
import { Prisma } from '../src/generated/prisma/client.js'
import { errorHandlerPlugin, uniqueViolationOf } from '../src/http/error-handler.js'

// Prisma 6 with @prisma/adapter-pg reports the fields of a P2002 under the adapter's error, not `target`.
const p2002 = new Prisma.PrismaClientKnownRequestError('Unique constraint failed on the fields: (`slug`)', {
  code: 'P2002',
  clientVersion: '6.19.3',
  meta: {
    modelName: 'Organization',
    driverAdapterError: { cause: { kind: 'UniqueConstraintViolation', constraint: { fields: ['slug'] } } },
  },
})
// What pg raises for an INSERT of raw SQL (Kysely) into a taken key.
const pg23505 = Object.assign(
  new Error('duplicate key value violates unique constraint "Contact_organizationId_waId_key"'),
  {
    code: '23505',
    constraint: 'Contact_organizationId_waId_key',
    detail: 'Key ("organizationId", "waId")=(org_1, 4915300000001) already exists.',
  },
)

const app = Fastify()
await app.register(errorHandlerPlugin)
app.post('/orm', async () => {
  throw p2002
})
app.post('/raw', async () => {
  throw pg23505
})
afterAll(() => app.close())

describe('unique-key conflicts, mapped once by the error handler', () => {
  it('reads the fields of Prisma P2002 and of pg 23505', () => {
    expect(uniqueViolationOf(p2002)).toEqual({ fields: ['slug'] })
    expect(uniqueViolationOf(pg23505)).toEqual({
      fields: ['organizationId', 'waId'],
      value: 'org_1, 4915300000001',
    })
    expect(uniqueViolationOf(new Error('other'))).toBeUndefined()
  })

  it('answers 409 naming the taken field, even when the value was derived and not in the body', async () => {
    const derived = await app.inject({ method: 'POST', url: '/orm', payload: { name: 'Acme' } })
    expect(derived.statusCode).toBe(409)
    expect(derived.json().error).toEqual({
      code: 'SLUG_TAKEN',
      message: 'slug is already used',
      details: { fields: ['slug'] },
    })
    const given = await app.inject({ method: 'POST', url: '/orm', payload: { name: 'Acme', slug: 'acme' } })
    expect(given.json().error.message).toBe('slug acme is already used')
  })

  it('answers 409 to the same conflict from raw SQL', async () => {
    const raw = await app.inject({ method: 'POST', url: '/raw', payload: {} })
    expect(raw.statusCode).toBe(409)
    expect(raw.json().error).toMatchObject({
      code: 'CONTACT_EXISTS',
      message: 'waId 4915300000001 is already used',
    })
  })
})
