import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Benchmark, BenchResult } from './types.js'

// Runs every `bench/*.bench.ts` (or only those named on the command line) one after the other,
// so that they never compete for the two cores, and writes bench/results/latest.json.
const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort()

const results: BenchResult[] = []
for (const file of files) {
  process.stdout.write(`bench ${file}\n`)
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { default: Benchmark }
  for (const result of await mod.default()) {
    results.push(result)
    process.stdout.write(`  ${JSON.stringify(result)}\n`)
  }
}

const out = {
  at: new Date().toISOString(),
  machine: { cpus: availableParallelism(), node: process.version },
  results,
}
mkdirSync(join(here, 'results'), { recursive: true })
writeFileSync(join(here, 'results', 'latest.json'), `${JSON.stringify(out, null, 2)}\n`)
process.stdout.write(`wrote bench/results/latest.json (${results.length} results)\n`)
