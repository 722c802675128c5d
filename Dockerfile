# The gateway as one static-ish executable in a small image, run as a non-root user with the data dir as a volume.
# Build: docker build -t opencharge-gateway .   Run: see README "Deployment".
FROM oven/bun:1.4.5 AS build
WORKDIR /src
COPY package.json bun.lock bunfig.toml tsconfig.json ./
# Dev dependencies too: the web wallet's bundle (embedded at build time) uses some; none reach the final image.
RUN bun install --frozen-lockfile
COPY schema.sql ./
COPY src ./src
COPY web ./web
# The API reference's signing guide computes its worked examples from the test vectors (embedded at build time).
COPY tests/vectors ./tests/vectors
RUN bun build --compile --minify src/main.ts src/verify-worker.ts --outfile /out/opencharge-gateway

FROM debian:bookworm-slim
# A system user without a shell or a home outside the data dir; it owns only /data.
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin opencharge \
    && mkdir -p /data && chown 10001:10001 /data && chmod 0700 /data
COPY --from=build /out/opencharge-gateway /usr/local/bin/opencharge-gateway
USER 10001:10001
ENV OC_DATA_DIR=/data OC_HOST=0.0.0.0 OC_PORT=8080
VOLUME ["/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/opencharge-gateway"]
CMD ["serve"]
