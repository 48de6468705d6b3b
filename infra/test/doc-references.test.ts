// Comments and READMEs cite documents by path: each one cited must be in the repository, and none may
// point at a file outside it (a reader of the repository cannot open those).
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')
const tracked = execFileSync('git', ['ls-files', '*.ts', '*.md', '*.yml', '*.yaml', '*.json'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter((file) => file !== '' && !file.includes('node_modules/'))

describe('document references', () => {
  it('cite docs/ files that exist and nothing outside the repository', () => {
    const problems: string[] = []
    for (const file of tracked) {
      const text = readFileSync(join(root, file), 'utf8')
      for (const match of text.matchAll(/\bdocs\/[\w./-]+\.md\b/g)) {
        if (!existsSync(join(root, match[0]))) problems.push(`${file}: ${match[0]} does not exist`)
      }
      for (const match of text.matchAll(
        /\/work\/shared\/\S*|\b(?:DESIGN|WHATSAPP|AWS-PRICES|PERF-NOTES|ENVIRONMENT)\.md\b/g,
      )) {
        problems.push(`${file}: cites ${match[0]}, which is not in the repository`)
      }
    }
    expect(problems).toEqual([])
  })
})
