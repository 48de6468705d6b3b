import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'

const REPO_ROOT = join(import.meta.dirname, '..', '..')
const FAKE_GRAPH_MAIN = join(REPO_ROOT, 'api', 'src', 'fake-graph', 'main.ts')

export interface FakeGraphProcess {
  url: string
  stop(): Promise<void>
}

/**
 * Starts the project's fake WhatsApp Graph API through its own start command (as the local target does),
 * sending its signed webhooks to `webhookUrl`. Resolves once it prints that it listens; bounded.
 */
export async function startFakeGraphProcess(input: {
  webhookUrl: string
  appSecret: string
}): Promise<FakeGraphProcess> {
  if (!existsSync(FAKE_GRAPH_MAIN)) throw new Error(`the fake Graph API is missing: ${FAKE_GRAPH_MAIN}`)
  const port = await freePort()
  const child = spawn(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [FAKE_GRAPH_MAIN], {
    cwd: join(REPO_ROOT, 'api'),
    env: {
      ...process.env,
      FAKE_GRAPH_PORT: String(port),
      FAKE_GRAPH_HOST: '127.0.0.1',
      FAKE_GRAPH_WEBHOOK_URL: input.webhookUrl,
      META_APP_SECRET: input.appSecret,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const stop = () => stopProcess(child)
  try {
    await new Promise<void>((resolve, reject) => {
      let output = ''
      const timer = setTimeout(
        () => reject(new Error(`fake Graph API did not start in 90 s: ${output}`)),
        90_000,
      )
      const collect = (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('listening on')) {
          clearTimeout(timer)
          resolve()
        }
      }
      child.stdout?.on('data', collect)
      child.stderr?.on('data', collect)
      child.on('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`fake Graph API exited with ${code}: ${output}`))
      })
    })
  } catch (error) {
    await stop()
    throw error
  }
  return { url: `http://127.0.0.1:${port}`, stop }
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (typeof address !== 'object' || address === null) throw new Error('no free port')
  return address.port
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 8_000)
  await exited
  clearTimeout(timer)
}
