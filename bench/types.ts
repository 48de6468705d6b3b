/** One measured result, in the form of docs/design.md (`bench/results/latest.json`). Durations end in `Ms`. */
export interface BenchResult {
  name: string
  reqPerSec: number
  p50Ms: number
  p99Ms: number
  errors: number
  baseline: { name: string; reqPerSec: number } | null
  [extra: string]: unknown
}

/** A benchmark module: `bench/<area>.bench.ts` with a default export returning its results. */
export type Benchmark = () => Promise<BenchResult[]>
