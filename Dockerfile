# syntax=docker/dockerfile:1
# One image for `authql serve` (the default) and `authql worker`. It runs with
# APP_ENV=production, so it refuses to start without the settings production needs:
#
#   docker build -t authql .
#   docker run --rm -p 8000:8000 \
#     -e APP_URL=https://app.example.com -e PUBLIC_URL=https://auth.example.com \
#     -e DATABASE_URL=postgres://authql:…@db.internal:5432/authql \
#     -e SMTP_URL=smtps://user:…@smtp.example.com:465 \
#     -e SIGNING_KEY_ENCRYPTION_KEY="$(cat signing-key.b64)" \
#     authql
#
# (add -e AMQP_URL=amqps://… to hand mail to `authql worker` containers). To try it out
# on a laptop instead: docker run --rm -p 8000:8000 -e APP_ENV=development authql
#
# Only the API port 8000 is exposed. The metrics listener (METRICS_BIND, port 9100) is
# internal: reachable from the container network (a Prometheus beside it), never
# exposed or published.
#
# The build runs the same `cargo build --release --locked` as a developer's
# `cargo run --release`, on the toolchain the crate declares (rust-version).

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src

# Dependencies first, in their own layer: rebuilt only when Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
COPY migration/Cargo.toml migration/Cargo.toml
RUN mkdir -p src migration/src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs migration/src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src migration/src target/release/.fingerprint/authql-* \
        target/release/.fingerprint/migration-* target/release/deps/authql-* \
        target/release/deps/libauthql-* target/release/deps/migration-* \
        target/release/deps/libmigration-*

# Then authql itself.
COPY . .
RUN cargo build --release --locked \
    && cp target/release/authql /authql \
    && mkdir -p /data/media /data/mailbox

# A small final image: glibc and CA roots only, no shell, not root.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /authql /usr/local/bin/authql
COPY --from=build --chown=65532:65532 /data /data
WORKDIR /data
ENV APP_ENV=production \
    BIND=0.0.0.0:8000 \
    METRICS_BIND=0.0.0.0:9100 \
    MEDIA_DIR=/data/media \
    MAIL_DIR=/data/mailbox \
    DATABASE_URL=sqlite:///data/authql.db?mode=rwc \
    LOG_FORMAT=json
# The distroless "nonroot" user.
USER 65532:65532
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/authql", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/authql"]
CMD ["serve"]
