# syntax=docker/dockerfile:1
# The production image: the lifecycle binary (worker, api, setup,
# deployment, playbook, email) without `lifecycle dev`, whose embedded
# Temporal server and Web UI production never runs (-tags nodev).
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t lifecycle:<version> .
#   docker run --rm lifecycle:<version> worker
# VERSION is stamped into the binary: `lifecycle worker` uses it as its
# build id in the Worker Deployment unless LIFECYCLE_BUILD_ID says otherwise,
# so give every build its own.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly
# Modules first, so a code change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG VERSION=dev
# timetzdata embeds the zone database: business hours follow each champion's
# IANA time zone, whatever the runtime image ships.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -tags nodev,timetzdata \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/lifecycle ./cmd/lifecycle
# /data (LIFECYCLE_DATA_DIR) must belong to the nonroot user: a new named
# volume takes the owner of the image's directory. Only used without
# DATABASE_URL (the store in SQLite there).
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/lifecycle /lifecycle
ENV LIFECYCLE_DATA_DIR=/data
USER 65532:65532
# 8080: the API (LIFECYCLE_HTTP_ADDR); 9090: the worker's /metrics,
# /healthz, /readyz (LIFECYCLE_WORKER_HTTP_ADDR). Both listen on 127.0.0.1
# unless told otherwise.
EXPOSE 8080 9090
ENTRYPOINT ["/lifecycle"]
