// The ✓/✗ checklist that `verify` prints (or emits as JSON).

export interface CheckResult {
  name: string
  ok: boolean
  detail: string
}

export function renderChecklist(title: string, checks: CheckResult[]): string {
  const failed = checks.filter((check) => !check.ok).length
  return [
    title,
    ...checks.map((check) => `  ${check.ok ? '✓' : '✗'} ${check.name}: ${check.detail}`),
    failed === 0 ? `all ${checks.length} checks passed` : `${failed} of ${checks.length} checks failed`,
  ].join('\n')
}
