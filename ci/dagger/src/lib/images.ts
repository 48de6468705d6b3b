// Base images of every container the module starts. Pinned tags in one place so a bump is one reviewed
// line; the service image itself is built from api/Dockerfile, whose NODE_IMAGE default matches `node`.
export const IMAGES = {
  /** Toolbox for npm, tsx, the pipeline CLI and the test suite (Debian: apt has PostgreSQL 15 and Redis 7). */
  node: 'node:22-bookworm',
  /** Base of the service image (api/Dockerfile's NODE_IMAGE default). */
  nodeSlim: 'node:22-bookworm-slim',
  postgres: 'postgres:15-bookworm',
  redis: 'redis:7-bookworm',
  /** Official k6 image; k6 >= 0.57 runs the TypeScript scripts in loadtests/k6 natively. */
  k6: 'grafana/k6:1.3.0',
  /** Pulumi CLI + Node.js, same release line as the @pulumi/pulumi SDK in infra/. */
  pulumi: 'pulumi/pulumi-nodejs:3.248.0',
} as const

/** Names the service containers answer to inside a Dagger network (service bindings). */
export const SERVICE_HOSTS = {
  postgres: 'postgres',
  redis: 'redis',
  /** The app container: API, worker and the fake Graph API (see local-environment.ts). */
  api: 'api',
} as const

export const API_PORT = 3000
export const FAKE_GRAPH_PORT = 4100
