// What never leaves the developer's machine when the repository is handed to a function: installed
// dependencies and build outputs are rebuilt inside containers, and `.pipeline/` holds local state and
// secrets. `@argument({ ignore })` in index.ts references this list; ci/test/dagger keeps it aligned
// with api/.dockerignore so the image build context is the same from Docker and from Dagger.
export const SOURCE_IGNORE = [
  '**/node_modules',
  '**/dist',
  '**/.pipeline',
  '.git',
  '**/*.log',
  '**/.env',
  '**/coverage',
  'api/src/generated',
  'bench/results',
  'scratch',
]

/**
 * The manifests `npm ci` needs before the sources are copied (a layer reused until one changes): the root's,
 * its lockfile and every workspace's. The module's own workspace and the shared packages sit one level deeper.
 */
export const INSTALL_MANIFESTS = [
  'package.json',
  'package-lock.json',
  '*/package.json',
  'ci/dagger/package.json',
  'packages/*/package.json',
]
