# syntax=docker/dockerfile:1
#
# The Coffer container image.
#
#   docker build -t coffer .                  # default: static binary, distroless, no PKCS#11
#   docker build -t coffer:hsm --target hsm . # cgo binary on debian-slim, for a PKCS#11 module
#
# Stamp the version as scripts/release does:
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg REVISION=$(git rev-parse HEAD) --build-arg COMMIT_TIME=$(git log -1 --format=%cI) -t coffer .
#
# Why two runtimes: PKCS#11 loads the HSM vendor's module with dlopen, which
# needs cgo and a libc. The default image is a CGO_ENABLED=0 static binary
# on distroless/static (no shell, no libc, nothing to patch but Coffer), in
# which HSM keys are unavailable: the server refuses --pkcs11-module with
# "built without cgo". The hsm target is the cgo binary on debian-slim,
# where the vendor's module and its libraries can be installed (FROM
# coffer:hsm, then COPY or apt-get the module).

# Keep in step with the go directive of go.mod.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=devel
ARG REVISION=
ARG COMMIT_TIME=
ENV LDFLAGS="-s -w -X github.com/coffer-vault/coffer/internal/buildinfo.version=${VERSION} -X github.com/coffer-vault/coffer/internal/buildinfo.revision=${REVISION} -X github.com/coffer-vault/coffer/internal/buildinfo.commitTime=${COMMIT_TIME}"
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
	CGO_ENABLED=0 go build -trimpath -ldflags "$LDFLAGS" -o /out/coffer ./cmd/coffer \
	&& install -d -m 0700 -o 65532 -g 65532 /out/var/lib/coffer

FROM build AS build-cgo
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
	CGO_ENABLED=1 go build -trimpath -ldflags "$LDFLAGS" -o /out/coffer ./cmd/coffer

# hsm: the cgo binary, for a PKCS#11 module added by a derived image.
FROM debian:bookworm-slim AS hsm
RUN groupadd --system --gid 65532 coffer \
	&& useradd --system --uid 65532 --gid coffer --home-dir /var/lib/coffer --shell /usr/sbin/nologin coffer \
	&& install -d -m 0700 -o coffer -g coffer /var/lib/coffer /etc/coffer
COPY --from=build-cgo /out/coffer /usr/local/bin/coffer
USER 65532:65532
VOLUME ["/var/lib/coffer"]
EXPOSE 8420
ENV COFFER_HEALTHCHECK_URL=https://127.0.0.1:8420/healthz
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
	CMD ["coffer", "healthcheck", "--insecure-skip-verify"]
ENTRYPOINT ["coffer"]
CMD ["server", "--data-dir", "/var/lib/coffer", "--listen", "0.0.0.0:8420", "--tls-cert", "/etc/coffer/tls/tls.crt", "--tls-key", "/etc/coffer/tls/tls.key"]

# The default image (last stage): static binary, distroless, uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/coffer /usr/local/bin/coffer
COPY --from=build /out/var/lib/coffer /var/lib/coffer
USER 65532:65532
VOLUME ["/var/lib/coffer"]
EXPOSE 8420
# The server serves HTTPS with the certificate mounted at /etc/coffer/tls
# (the key mode 0600, owned by uid 65532). The probe goes to 127.0.0.1,
# which the certificate does not name, and sends nothing secret, so it
# does not verify it. Behind a TLS-terminating proxy, run the server with
# --insecure-http and set COFFER_HEALTHCHECK_URL=http://127.0.0.1:8420/healthz.
ENV COFFER_HEALTHCHECK_URL=https://127.0.0.1:8420/healthz
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
	CMD ["coffer", "healthcheck", "--insecure-skip-verify"]
ENTRYPOINT ["coffer"]
CMD ["server", "--data-dir", "/var/lib/coffer", "--listen", "0.0.0.0:8420", "--tls-cert", "/etc/coffer/tls/tls.crt", "--tls-key", "/etc/coffer/tls/tls.key"]
