# syntax=docker/dockerfile:1
# The lifecycle binary (subcommands dev, worker, api) in a small image.
#   docker build -t lifecycle .
#   docker run --rm lifecycle worker

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly
# Modules first, so a code change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
# timetzdata embeds the zone database: business hours follow each champion's
# IANA time zone, whatever the runtime image ships.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -tags timetzdata -ldflags='-s -w' -o /out/lifecycle ./cmd/lifecycle
# /data (LIFECYCLE_DATA_DIR in docker-compose.yml) must belong to the nonroot
# user: a new named volume takes the owner of the image's directory.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/lifecycle /lifecycle
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/lifecycle"]
