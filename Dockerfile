# syntax=docker/dockerfile:1
# One image for `authql serve` (the default) and `authql worker`.
#
#   docker build -t authql .
#   docker run --rm -p 8000:8000 -e BIND=0.0.0.0:8000 authql
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
ENV BIND=0.0.0.0:8000 \
    METRICS_BIND=0.0.0.0:9100 \
    MEDIA_DIR=/data/media \
    MAIL_DIR=/data/mailbox \
    DATABASE_URL=sqlite:///data/authql.db?mode=rwc \
    LOG_FORMAT=json
# The distroless "nonroot" user.
USER 65532:65532
EXPOSE 8000 9100
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/authql", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/authql"]
CMD ["serve"]
