// Bundles the HTTP API's compiled modules (dist/server-main.js and everything it imports) into that
// one file, in place, after tsc. Why: on Node 20 and 22 a cold start spends most of its time resolving,
// reading and linking some 1,500 module files one by one (kysely, typebox, undici, bullmq, fastify...);
// one file parses in a fraction of that (measured by bench/api.bench.ts: readyMs, readyCpuMs).
// dist/server.js stays a separate tiny module: it turns Node 22's compile cache on before importing
// the bundle. The worker, the ops commands and the fake Graph API stay unbundled.
//
// Left outside the bundle, loaded from node_modules as before: packages that read files next to their
// own code at run time (the Prisma runtime and its wasm, swagger and swagger-ui's static assets,
// pino's worker transports) and optional native add-ons. The generated Prisma client stays a module of
// its own (dist/generated/prisma) because it locates itself through import.meta.url.
import { readFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

const api = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(api, 'dist')
const entry = join(dist, 'server-main.js')

const generatedClientStaysApart = {
  name: 'generated-client-stays-apart',
  setup(build) {
    build.onResolve({ filter: /generated\/prisma\// }, (args) => {
      const target = join(args.resolveDir, args.path)
      return { path: `./${relative(dist, target)}`, external: true }
    })
  },
}

// In a bundle import.meta.url is the bundle's own URL. The service's modules that locate files next to
// themselves (status/migrations.js finds prisma/migrations) get their original URL back: the bundle sits
// in dist/ as those modules did, so a URL relative to it names the same file.
const ownImportMetaUrl = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.js$/ }, async (args) => {
      if (!args.path.startsWith(`${dist}/`)) return undefined
      const source = await readFile(args.path, 'utf8')
      if (!source.includes('import.meta.url')) return undefined
      const own = `new URL(${JSON.stringify(`./${relative(dist, args.path)}`)}, import.meta.url).href`
      return {
        contents: source.replaceAll('import.meta.url', own),
        loader: 'js',
        resolveDir: dirname(args.path),
      }
    })
  },
}

const result = await esbuild.build({
  entryPoints: [entry],
  outfile: entry,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  // Whitespace and syntax only: names stay, so stack traces and profiles still read without the map,
  // and the process parses and holds about half the source text (start-up time and memory).
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  external: [
    '@prisma/client',
    '@prisma/client/*',
    '@fastify/swagger',
    '@fastify/swagger-ui',
    'pino',
    'thread-stream',
    'pg-native',
    'msgpackr-extract',
  ],
  plugins: [generatedClientStaysApart, ownImportMetaUrl],
  // CommonJS dependencies inside an ES module bundle still call require() and read __dirname.
  banner: {
    js: [
      "import { createRequire as __bundleCreateRequire } from 'node:module'",
      "import { dirname as __bundleDirname } from 'node:path'",
      "import { fileURLToPath as __bundleFileURLToPath } from 'node:url'",
      'const require = __bundleCreateRequire(import.meta.url)',
      'const __filename = __bundleFileURLToPath(import.meta.url)',
      'const __dirname = __bundleDirname(__filename)',
    ].join('\n'),
  },
})
const inputs = Object.keys(result.metafile.inputs).length
const bytes = result.metafile.outputs[relative(process.cwd(), entry)]?.bytes ?? Number.NaN
process.stdout.write(
  `bundled dist/server-main.js: ${inputs} modules, ${(bytes / 1024 / 1024).toFixed(1)} MB\n`,
)
