#!/usr/bin/env bash
# Proves on a machine with no container registry that api/Dockerfile builds and that the container
# migrates a real PostgreSQL and answers GET /health with 200 against real PostgreSQL and Redis.
#
#   npm run image:check            (root; installs docker.io/debootstrap with apt when missing)
#
# Steps: start a private dockerd (no bridge, no iptables) -> make a Debian bookworm base image with
# debootstrap + this machine's node/npm (no image can be pulled) -> docker build api/Dockerfile with
# NODE_IMAGE=<that base> -> start PostgreSQL + Redis (packages/local-services) -> backup, verify-backup
# and migrate with the image's ops commands -> run the service container (--network host) -> poll /health and the image's own
# HEALTHCHECK -> print each layer's size and the image's, fail over CHECK_IMAGE_MAX_MB -> clean up everything it started.
#
# Env: CHECK_IMAGE_KEEP_DOCKERD=1 leaves the private dockerd running for the next run (default: stopped).
#      CHECK_IMAGE_MAX_MB (default 300): the check fails on a bigger image.
#      CHECK_IMAGE_BASE (default whatsapp-saas/node-base:bookworm) names the cached base image.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"

started_at=$(date +%s)
step() { printf '\n== %s (+%ss)\n' "$*" "$(($(date +%s) - started_at))"; }
die() { echo "check-image: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (dockerd, debootstrap); try: sudo npm run image:check"
command -v node >/dev/null || die "node is missing (install Node.js 20+)"

WORK="$(mktemp -d /tmp/check-image.XXXXXX)"
STATE=/var/lib/whatsapp-saas-check-image     # private dockerd data root: the base image survives runs
SOCK="unix://$STATE/docker.sock"
BASE_IMAGE="${CHECK_IMAGE_BASE:-whatsapp-saas/node-base:bookworm}"
IMAGE="whatsapp-saas-api:check"
CONTAINER="whatsapp-saas-api-check-$$"
DOCKERD_PID=""
SERVICES_PID=""

cleanup() {
  local rc=$?
  set +e
  if [ -n "${DOCKER_HOST:-}" ] && docker info >/dev/null 2>&1; then
    docker rm -f "$CONTAINER" >/dev/null 2>&1
  fi
  if [ -n "$SERVICES_PID" ] && kill -0 "$SERVICES_PID" 2>/dev/null; then
    kill -TERM "$SERVICES_PID"
    for _ in $(seq 1 50); do kill -0 "$SERVICES_PID" 2>/dev/null || break; sleep 0.2; done
  fi
  if [ -n "$DOCKERD_PID" ] && [ "${CHECK_IMAGE_KEEP_DOCKERD:-0}" != 1 ]; then
    kill -TERM "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -rf "$WORK"
  [ "$rc" -eq 0 ] || echo "check-image: FAILED (exit $rc) after $(($(date +%s) - started_at))s" >&2
  exit "$rc"
}
trap cleanup EXIT INT TERM

apt_install() {
  command -v apt-get >/dev/null || die "missing $* and no apt-get: install them with your package manager"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- 1. a private dockerd --------------------------------------------------------------------------
step "docker daemon"
command -v dockerd >/dev/null || apt_install docker.io
command -v docker >/dev/null || die "docker CLI missing after installing docker.io"
mkdir -p "$STATE"
export DOCKER_HOST="$SOCK"
if ! docker info >/dev/null 2>&1; then
  # No default bridge (it would sit on a private range) and no iptables: containers use --network host.
  dockerd --host "$SOCK" --data-root "$STATE/data" --exec-root "$STATE/exec" --pidfile "$STATE/dockerd.pid" \
    --bridge=none --iptables=false --ip6tables=false >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null 2>&1 || { tail -n 20 "$WORK/dockerd.log" >&2; die "dockerd did not start"; }
fi
echo "dockerd $(docker version --format '{{.Server.Version}}'), storage driver $(docker info --format '{{.Driver}}')"

# --- 2. a local base image (nothing can be pulled) -------------------------------------------------
# Two layers: a Debian bookworm rootfs from debootstrap (cached across runs), then this machine's
# node/npm and CA certificates on top (rebuilt each run; cheap, and follows node or CA changes).
ROOTFS_IMAGE="whatsapp-saas/debian-rootfs:bookworm"
step "base image $BASE_IMAGE"
if docker image inspect "$ROOTFS_IMAGE" >/dev/null 2>&1; then
  echo "rootfs cached"
else
  command -v debootstrap >/dev/null || apt_install debootstrap
  ROOTFS="$WORK/rootfs"
  mirror="$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)"
  debootstrap --variant=minbase bookworm "$ROOTFS" "${mirror:-http://deb.debian.org/debian}" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  # Keep apt's behaviour equal to this machine's (e.g. snapshot mirrors without Valid-Until).
  cp /etc/apt/apt.conf.d/99* "$ROOTFS/etc/apt/apt.conf.d/" 2>/dev/null || true
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
  tar -C "$ROOTFS" -c . | docker import - "$ROOTFS_IMAGE" >/dev/null
  rm -rf "$ROOTFS"
fi
# This machine's node and npm stand in for the official node:22-bookworm-slim image, and its CA
# bundle is trusted inside (egress here may go through a TLS-inspecting proxy).
BASE_CTX="$WORK/base"
mkdir -p "$BASE_CTX/ca"
install -m 0755 "$(readlink -f "$(command -v node)")" "$BASE_CTX/node"
cp -a "$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")" "$BASE_CTX/npm"
cp /etc/ssl/certs/ca-certificates.crt "$BASE_CTX/ca-certificates.crt"
cp /usr/local/share/ca-certificates/*.crt "$BASE_CTX/ca/" 2>/dev/null || true
printf '%s\n' \
  "FROM $ROOTFS_IMAGE" \
  'COPY ca/ /usr/local/share/ca-certificates/' \
  'COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt' \
  'COPY node /usr/local/bin/node' \
  'COPY npm /usr/local/lib/node_modules/npm' \
  'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx' \
  'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  >"$BASE_CTX/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t "$BASE_IMAGE" "$BASE_CTX" >/dev/null 2>"$WORK/base-build.log" ||
  { cat "$WORK/base-build.log" >&2; die "base image build failed"; }
docker run --rm --network none "$BASE_IMAGE" node --version

# --- 3. build ---------------------------------------------------------------------------------------
step "docker build -f api/Dockerfile"
# The context is the repository root. The classic builder reads only a root .dockerignore, so the
# context is sent as a tar filtered by api/.dockerignore (node_modules never leaves this machine).
excludes=()
while IFS= read -r pattern; do
  pattern="${pattern%%#*}"; pattern="${pattern//[[:space:]]/}"
  [ -n "$pattern" ] && excludes+=("--exclude=${pattern#\*\*/}")
done <api/.dockerignore
version="$(git rev-parse --short HEAD 2>/dev/null || echo dev)"
build_started=$(date +%s)
tar -C "$REPO" "${excludes[@]}" -cf - . |
  DOCKER_BUILDKIT=0 docker build -f api/Dockerfile --network host \
    --build-arg NODE_IMAGE="$BASE_IMAGE" --build-arg APP_VERSION="$version" -t "$IMAGE" - >"$WORK/build.log" 2>&1 ||
  { tail -n 40 "$WORK/build.log" >&2; die "docker build failed (full log above)"; }
echo "built in $(($(date +%s) - build_started))s"
docker run --rm --network none --entrypoint sh "$IMAGE" -c 'id -un; pg_dump --version; pg_restore --version; ls dist/server.js prisma/migrations prisma.config.ts >/dev/null'

# --- 4. PostgreSQL + Redis on free loopback ports --------------------------------------------------
step "PostgreSQL and Redis (packages/local-services)"
cat >"$WORK/services.mts" <<EOF
import { writeFileSync } from 'node:fs'
import { startPostgres, startRedis } from '$REPO/packages/local-services/src/index.ts'
const pg = await startPostgres()
const redis = await startRedis()
writeFileSync('$WORK/services.env', \`DATABASE_URL=\${pg.url()}\nREDIS_URL=\${redis.url}\n\`)
const stop = async () => { await Promise.allSettled([pg.stop(), redis.stop()]); process.exit(0) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
setInterval(() => {}, 60_000)
EOF
(cd "$REPO" && exec npx --no-install tsx "$WORK/services.mts") >"$WORK/services.log" 2>&1 &
SERVICES_PID=$!
for _ in $(seq 1 300); do [ -s "$WORK/services.env" ] && break; kill -0 "$SERVICES_PID" 2>/dev/null || break; sleep 0.2; done
[ -s "$WORK/services.env" ] || { cat "$WORK/services.log" >&2; die "local PostgreSQL/Redis did not start"; }

port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
# Throwaway secrets for this run only; never printed.
{
  cat "$WORK/services.env"
  echo "PORT=$port"
  echo "HOST=127.0.0.1"
  echo "LOG_LEVEL=warn"
  echo "ADMIN_TOKEN=$(node -e "console.log(require('crypto').randomBytes(24).toString('hex'))")"
  echo "META_APP_SECRET=$(node -e "console.log(require('crypto').randomBytes(24).toString('hex'))")"
  echo "META_VERIFY_TOKEN=$(node -e "console.log(require('crypto').randomBytes(12).toString('hex'))")"
  echo "ENCRYPTION_KEY=$(node -e "console.log(require('crypto').randomBytes(32).toString('base64'))")"
  echo "GRAPH_API_BASE_URL=http://127.0.0.1:9"
} >"$WORK/container.env"
chmod 600 "$WORK/container.env"

# --- 5. migrations from the image, then the service -------------------------------------------------
# Exactly what the pipeline runs next to the database: a backup (pg_dump in the image), its
# verification (pg_restore into a scratch database), then the migration that refuses without it.
step "backup -> verify-backup -> migrate (ops commands in the image)"
docker run --rm --network host --env-file "$WORK/container.env" -e BACKUP_STORE=file:///tmp/backups "$IMAGE" \
  sh -c 'node dist/ops/main.js backup && node dist/ops/main.js verify-backup --backup latest && node dist/ops/main.js migrate' \
  >"$WORK/migrate.log" 2>&1 || { tail -n 30 "$WORK/migrate.log" >&2; die "ops commands failed in the image"; }
grep -E '^\{' "$WORK/migrate.log" | sed -E 's/"(apiKey|password)":"[^"]*"/"\1":"***"/g' | cut -c1-200

step "service container on 127.0.0.1:$port"
docker run -d --name "$CONTAINER" --network host --env-file "$WORK/container.env" "$IMAGE" >/dev/null
health=""
for _ in $(seq 1 120); do
  health="$(node -e "fetch('http://127.0.0.1:$port/health',{signal:AbortSignal.timeout(2000)}).then(async r=>console.log(r.status+' '+await r.text()),()=>console.log('down'))")"
  case "$health" in 200\ *) break ;; esac
  [ "$(docker inspect -f '{{.State.Running}}' "$CONTAINER")" = true ] || break
  sleep 0.5
done
case "$health" in
  200\ *) echo "GET /health -> $health" ;;
  *) docker logs --tail 40 "$CONTAINER" >&2; die "GET /health never answered 200 (last: $health)" ;;
esac
echo "waiting for the image's HEALTHCHECK to report healthy"
status=""
for _ in $(seq 1 90); do
  status="$(docker inspect -f '{{.State.Health.Status}}' "$CONTAINER")"
  [ "$status" = healthy ] && break
  [ "$status" = unhealthy ] && break
  sleep 1
done
[ "$status" = healthy ] || die "HEALTHCHECK status: $status"
echo "HEALTHCHECK: healthy"

step "result"
# Each layer with the instruction that made it, newest first; the base image's layers are the last ones.
echo "layers (size, instruction):"
docker history --no-trunc --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" |
  sed -E 's@/bin/sh -c (#\(nop\) +)?@@' | cut -c1-160 | sed 's/^/  /'
size_bytes="$(docker image inspect -f '{{.Size}}' "$IMAGE")"
base_bytes="$(docker image inspect -f '{{.Size}}' "$BASE_IMAGE")"
echo "image $IMAGE ($version): $((size_bytes / 1024 / 1024)) MiB ($size_bytes bytes; of which the base $((base_bytes / 1024 / 1024)) MiB), user $(docker image inspect -f '{{.Config.User}}' "$IMAGE")"
# The production dependencies alone: what the Dockerfile controls beyond the base and the OS packages.
docker run --rm --network none --entrypoint sh "$IMAGE" -c 'du -sm /app/node_modules /app/api/node_modules /app/api/dist 2>/dev/null' |
  sed 's/^/  MiB /'
max_mb="${CHECK_IMAGE_MAX_MB:-300}"
[ "$((size_bytes / 1024 / 1024))" -le "$max_mb" ] || die "image is $((size_bytes / 1024 / 1024)) MiB, over the ${max_mb} MiB limit (CHECK_IMAGE_MAX_MB)"
echo "check-image: OK in $(($(date +%s) - started_at))s"
