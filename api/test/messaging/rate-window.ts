/** Most events inside any rolling window of `windowMs` (two pointers over sorted times). */
export function maxInRollingWindow(times: number[], windowMs = 1_000): number {
  const sorted = [...times].sort((a, b) => a - b)
  let best = 0
  let start = 0
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start += 1
    best = Math.max(best, end - start + 1)
  }
  return best
}
