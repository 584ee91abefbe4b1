# syntax=docker/dockerfile:1

# Build: docker build -t graphql-auth-items-api .   (or `docker compose up --build`, see docker-compose.yml)
# Configuration comes from the environment only; see .env.example. In production the image needs
# MONGODB_URI and JWT_SECRET (or JWT_SECRET_FILE / MONGODB_URI_FILE pointing at mounted secrets).

# ---- Stage 1: compile TypeScript and bundle the playground (needs the dev dependencies) ----
FROM node:24-bookworm-slim AS build
WORKDIR /app
ENV npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY playground ./playground
# tsc -> dist/, then esbuild -> dist/playground
RUN npm run build

# ---- Stage 2: runtime, production dependencies only ----
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    npm_config_fund=false \
    npm_config_audit=false \
    npm_config_update_notifier=false
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts is safe: bcrypt 6 ships N-API prebuilds (glibc linux-x64/arm64) that
# node-gyp-build loads at run time, so no compiler and no install script are needed.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts
# Code and dependencies stay owned by root, so the app cannot modify them.
COPY --from=build /app/dist ./dist
# The trusted documents (TRUSTED_DOCUMENTS=allow|only), at the path the server reads from its root.
COPY schema/generated/persisted-documents.json ./schema/generated/persisted-documents.json
USER node
EXPOSE 4000
# The slim image has no curl: ask node itself (Node 24 has fetch built in).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
CMD ["node", "dist/index.js"]
