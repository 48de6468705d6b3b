import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { TEST_SECRETS, type TestEnvironment } from '../harness/index.js'

/** API processes of one test file (each a real `node` process on the test's PostgreSQL and Redis). */
export class ApiProcesses {
  private readonly children: ChildProcess[] = []

  constructor(private readonly env: TestEnvironment) {}

  /** Starts one API process on `databaseUrl`; resolves with its port once it listens. */
  start(databaseUrl: string): Promise<number> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./api-server.ts', import.meta.url))],
      {
        env: {
          ...process.env,
          DATABASE_URL: databaseUrl,
          REDIS_URL: this.env.redis.url,
          REDIS_CA_FILE: this.env.redis.caFile,
          DATABASE_CA_FILE: this.env.postgres.caFile,
          PORT: '0',
          HOST: '127.0.0.1',
          ADMIN_TOKEN: TEST_SECRETS.adminToken,
          META_APP_SECRET: TEST_SECRETS.metaAppSecret,
          META_VERIFY_TOKEN: TEST_SECRETS.metaVerifyToken,
          ENCRYPTION_KEY: TEST_SECRETS.encryptionKey.toString('base64'),
          LOG_LEVEL: 'error',
          RATE_LIMIT_PER_MINUTE: '1000000',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    this.children.push(child)
    return new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`api process exited with ${code}`)))
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const match = /^listening (\d+)$/.exec(line)
        if (match) resolve(Number(match[1]))
        else process.stderr.write(`${line}\n`)
      })
    })
  }

  stopAll(): Promise<void> {
    return Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve()
            child.once('exit', () => resolve())
            child.kill('SIGTERM')
          }),
      ),
    ).then(() => {})
  }
}
