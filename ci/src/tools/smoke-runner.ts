import type { SmokeRunner } from '../core/types.js'

/** The pipeline's smoke stage: smoke/'s suite against the deployed environment, each check logged as it ends. */
export const runSmokeSuite: SmokeRunner = async ({ env, expectVersion, signal, log }) => {
  const { runSmoke, formatCheckLine } = await import('@whatsapp-saas/smoke')
  signal.throwIfAborted()
  const report = await runSmoke({
    env,
    expectVersion,
    onCheck: (check) => (check.status === 'failed' ? log.warn : log.info)(formatCheckLine(check)),
  })
  const failed = report.checks.filter((c) => c.status === 'failed')
  return {
    passed: report.passed,
    summary: failed.length
      ? `${report.summary}; ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')}`
      : report.summary,
    details: { checks: report.checks, durationMs: report.durationMs },
  }
}
