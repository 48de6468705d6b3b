// The end-to-end run (and `deploy --env local`): a throwaway local environment made of Dagger services, the
// image's own backup → verify → migrate, the demo seed, the smoke suite, then every k6 scenario.
// Every step runs to its end and leaves its output in the returned reports; the first failure is named.
import { type Container, type Directory, dag, ReturnType, type Service } from '@dagger.io/dagger'
import {
  localEnvironment,
  localSecrets,
  migrateLocal,
  runK6,
  serviceImage,
  toolbox,
  withLocalEnvironment,
} from './containers.js'
import { SERVICE_HOSTS } from './images.js'
import { K6_SCRIPTS, k6Verdict } from './k6.js'
import { ENV_FILES, envFilesProgram, seedCommand } from './local-environment.js'
import { randomSecret } from './local-secrets.js'
import { type StepResult, summaryMarkdown } from './step-summary.js'

/** Bounded load per scenario inside the engine: enough to prove the path, short enough for every PR. */
export const E2E_LOAD_SECONDS = 20

export interface LocalRunResult {
  exitCode: number
  failure?: string
  reports: Directory
}

async function outputOf(ran: Container): Promise<string> {
  return `${await ran.stdout()}\n${await ran.stderr()}`.trim()
}

export async function runLocalEnvironmentChecks(
  source: Directory,
  version: string,
  options: { skipLoad?: boolean } = {},
): Promise<LocalRunResult> {
  const environment = localEnvironment(serviceImage(source, version), version, localSecrets(randomSecret))
  const steps: StepResult[] = []
  let reports = dag.directory()
  const started: Service[] = []
  const start = async (service: Service) => {
    await service.start()
    started.push(service)
  }
  try {
    // Started explicitly so the migration and the API see the same PostgreSQL instance.
    await start(environment.postgres)
    await start(environment.redis)

    const migrated = migrateLocal(environment)
    const migrateCode = await migrated.exitCode()
    reports = reports.withNewFile('migrate.log', await outputOf(migrated))
    steps.push({
      name: 'migrate',
      passed: migrateCode === 0,
      detail: 'backup → verify-backup → migrate (image)',
    })

    if (migrateCode === 0) {
      await start(environment.app)

      const seeded = withLocalEnvironment(toolbox(source), environment)
        .withExec(['mkdir', '-p', '/run/local-env'])
        .withExec(['sh', '-c', `${seedCommand().join(' ')} | tail -n 1 > ${ENV_FILES.seed}`])
        .withExec(['node', '-e', envFilesProgram()])
      const smoked = seeded.withExec(
        [
          'sh',
          '-c',
          `npm run --silent smoke -w smoke -- --env-file ${ENV_FILES.envJson} --expect-version '${version}' --json > /run/local-env/smoke.json`,
        ],
        { expect: ReturnType.Any },
      )
      const smokeCode = await smoked.exitCode()
      reports = reports.withFile('smoke.json', smoked.file('/run/local-env/smoke.json'))
      steps.push({
        name: 'smoke',
        passed: smokeCode === 0,
        detail: `smoke suite against ${SERVICE_HOSTS.api}`,
      })

      if (!options.skipLoad && smokeCode === 0) {
        for (const script of K6_SCRIPTS) {
          // The exports file carries the demo API key of this throwaway environment only.
          const run = await runK6(source.directory('loadtests/k6'), script, E2E_LOAD_SECONDS, {
            env: {},
            secrets: {},
            exportsFile: seeded.file(ENV_FILES.k6Exports),
            bind: (ctr) => ctr.withServiceBinding(SERVICE_HOSTS.api, environment.app),
          })
          const verdict = k6Verdict(run.exitCode)
          reports = reports.withNewFile(`k6-${script}.log`, run.output)
          if (run.exitCode === 0 || run.exitCode === 99)
            reports = reports.withFile(`k6-${script}.json`, run.summary)
          steps.push({ name: `load ${script}`, passed: verdict.passed, detail: verdict.reason })
        }
      }
    }
  } finally {
    for (const service of started.reverse()) await service.stop().catch(() => undefined)
  }
  const failed = steps.find((step) => !step.passed)
  const exitCode = failed ? 1 : 0
  reports = reports
    .withNewFile('summary.md', summaryMarkdown(`end to end ${version}`, steps))
    .withNewFile('exit-code', `${exitCode}\n`)
  return { exitCode, ...(failed ? { failure: `${failed.name}: ${failed.detail}` } : {}), reports }
}
