# syntax=docker/dockerfile:1
# leakhound in a container: a static (musl) binary on a minimal base.
#
#   docker build -t leakhound .
#   docker run --rm -v "$PWD:/src" leakhound scan /src
#
# The release workflow builds this for linux/amd64 and linux/arm64 and
# pushes it as ghcr.io/leakhound/leakhound:X.Y.Z (and :latest).

FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /build
COPY . .
RUN cargo build --release --locked \
 && cp target/release/leakhound /leakhound \
 && /leakhound --version

# git history scans read the repository with libgit2 (built in), so no git
# binary is needed; CA certificates are for --verify.
FROM alpine:3 AS certs
RUN apk add --no-cache ca-certificates

# `docker build --target audit`: leakhound with git, OpenSSH and CA
# certificates, for audits of remote repositories and organisations
# (docs/audit.md), which clone with the system git. Released as
# ghcr.io/leakhound/leakhound:X.Y.Z-audit.
FROM alpine:3 AS audit
RUN apk add --no-cache git openssh-client ca-certificates
COPY --from=build /leakhound /usr/local/bin/leakhound
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/leakhound"]

FROM scratch
COPY --from=certs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /leakhound /usr/local/bin/leakhound
WORKDIR /src
ENTRYPOINT ["/usr/local/bin/leakhound"]
CMD ["scan", "/src"]
