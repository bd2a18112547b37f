# api-controller image: a bundle of src/main.ts and its production dependencies on a Node 22
# runtime, run as a non-root user. The build stage runs the same command the tests run without
# Docker (scripts/bundle.ts, test/cluster/DeployBundle.test.ts), so the image runs what was tested.
#
#   docker build -t <registry>/api-controller:0.1.0 .      then set the image in deploy/kustomization.yaml
#
# Pin the base images by digest for reproducible builds: --build-arg NODE_IMAGE=node:22-bookworm-slim@sha256:...
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Dependencies first, so a source change reuses this layer. Development dependencies (esbuild,
# tsx) are needed to build; none of them reaches the runtime stage.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY machines ./machines
COPY scripts/bundle.ts ./scripts/bundle.ts
COPY scripts/lib/RepoRoot.ts ./scripts/lib/RepoRoot.ts
RUN npx tsx scripts/bundle.ts dist

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# dist/: main.js (one ES module with the production dependencies inside), its source map, and a
# package.json that marks it as a module. No node_modules, no npm at run time.
COPY --from=build --chown=0:0 /src/dist ./dist
# The image's "node" user, by number so the kubelet can verify runAsNonRoot; it owns nothing it
# could change, and the Deployment runs with a read-only root filesystem.
USER 1000:1000
EXPOSE 8081
# No --enable-source-maps: node holds the parsed 15 MB map in memory, about 140 MB of RSS
# (measured). Stack traces name the bundle's functions and lines (it is not minified, and
# dist/main.js.map is in the image to map them by hand); for a debugging session set
# NODE_OPTIONS=--enable-source-maps. V8's heap is sized in deploy/manager/deployment.yaml.
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["run", "--leader-elect"]
