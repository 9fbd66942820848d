# The Trellis sync server (trellis-server) in a container. From the repository root:
#   docker build -t trellis-server .
#   docker run -p 8787:8787 -v trellis-data:/data -e TRELLIS_JWT_SECRET -e TRELLIS_ADMIN_SECRET trellis-server
# See docs/server.md, "Docker".

FROM node:20-slim AS build
# better-sqlite3 compiles from source when its prebuilt binary cannot be downloaded.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
RUN npm install -g pnpm@10.34.8
WORKDIR /repo
COPY . .
# The server, the packages it is built from, and the workspace root's build tools; not the examples.
RUN pnpm install --frozen-lockfile --filter "@trellis/server..." --filter trellis
RUN pnpm --filter @trellis/core run build && pnpm --filter @trellis/server run build
# The server as npm would install it: its files and production dependencies only.
RUN pnpm --filter @trellis/server deploy --prod --legacy /app

FROM node:20-slim
ENV NODE_ENV=production \
    PORT=8787 \
    HOST=0.0.0.0 \
    TRELLIS_DATA=/data
# Owned by root, so the server (running as node) cannot change its own code.
COPY --from=build /app /app
# Created and handed to node before VOLUME, so that a new named volume starts writable by node.
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
WORKDIR /app
EXPOSE 8787
# The image has no curl; Node's fetch asks /health, which answers 503 while the server shuts down.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop) makes the server acknowledge what it received and close its databases.
ENTRYPOINT ["node", "/app/dist/cli.js"]
