import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')

describe('what the load tests depend on', () => {
  it('shares the client side with smoke through @whatsapp-saas/service-client, never smoke itself', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>
    }
    expect(Object.keys(manifest.dependencies)).toContain('@whatsapp-saas/service-client')
    expect(Object.keys(manifest.dependencies)).not.toContain('@whatsapp-saas/smoke')
    for (const dir of ['src', 'k6', 'test'])
      for (const file of readdirSync(join(root, dir)).filter((name) => name.endsWith('.ts'))) {
        const text = readFileSync(join(root, dir, file), 'utf8')
        expect(text, `${dir}/${file}`).not.toMatch(/from ['"](@whatsapp-saas\/smoke|(\.\.\/)+smoke\/)/)
      }
  })
})
