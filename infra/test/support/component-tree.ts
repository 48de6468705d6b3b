// The program's resources grouped under one component per concern, checked against the URNs the stacks
// had before the components existed (test/snapshots/resource-urns-<stack>.json, `<type>::<name>` at the
// stack root): every resource that moved carries an alias to that URN, so `pulumi up` on an existing stack
// moves it in state instead of deleting and recreating it (an RDS instance, KMS keys, the backup bucket).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { CONCERN_TYPE_PREFIX } from '../../src/concern.js'
import { type Registration, registrations, urnOf } from '../../src/mock-runtime.js'
import { loadStackConfig } from '../../src/stack-file.js'
import { runStackProgram } from './stack-program.js'

export function describeComponentTree(stack: string): void {
  let all: Registration[]
  const before = JSON.parse(
    readFileSync(join(import.meta.dirname, '..', 'snapshots', `resource-urns-${stack}.json`), 'utf8'),
  ) as string[]

  beforeAll(async () => {
    await runStackProgram(stack)
    all = registrations()
  })

  describe(`${stack}: one component per concern`, () => {
    it('groups every resource under a component of the program (a tree in pulumi preview)', () => {
      const components = all.filter((r) => !r.custom)
      expect(components.length).toBeGreaterThanOrEqual(15)
      for (const component of components) {
        expect(component.type.startsWith(CONCERN_TYPE_PREFIX), component.type).toBe(true)
      }
      const componentUrns = new Set(components.map((c) => c.urn))
      const atRoot = all.filter((r) => r.custom && r.parent === '').map((r) => `${r.type}::${r.name}`)
      // Account-level, kept out of every concern: the ECS service-linked role (retained on delete), created
      // by the one stack of the account whose config says so.
      expect(atRoot).toEqual(
        loadStackConfig(stack).account.createEcsServiceLinkedRole
          ? [`aws:iam/serviceLinkedRole:ServiceLinkedRole::whatsapp-saas-${stack}-ecs-service-linked-role`]
          : [],
      )
      for (const resource of all.filter((r) => r.custom && r.parent !== '')) {
        expect(componentUrns.has(resource.parent), `${resource.name}: parent ${resource.parent}`).toBe(true)
      }
    })

    it('keeps the URN of every resource the stack had before the components, through an alias', () => {
      const keptUrns = all
        .filter((r) => r.custom)
        .map((r) =>
          r.parent === '' ? r.urn : r.aliases.find((alias) => alias === urnOf(r.type, r.name, '')),
        )
      expect(keptUrns.filter((urn) => urn === undefined)).toEqual([])
      expect([...keptUrns].sort()).toEqual(
        before.map((entry) => `urn:pulumi:${stack}::whatsapp-saas::${entry}`).sort(),
      )
    })
  })
}
