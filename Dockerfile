# The watchdog image: the static binary and a config, FROM scratch, nothing to pull.
# Build it with docker/build, which compiles the binary on the host into a build context
# holding exactly the two files copied here (README "Use it as an ENTRYPOINT"):
#
#   watchdog       CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=VERSION"
#   watchdog.toml  docker/watchdog.toml, the config to replace with your own
FROM scratch

COPY watchdog /watchdog
COPY watchdog.toml /etc/watchdog.toml

# docker stop sends SIGTERM: watchdog's staged shutdown, bounded by shutdown_timeout (9 s by
# default) so that it ends before Docker's SIGKILL 10 s later.
STOPSIGNAL SIGTERM
# Healthy when every service is healthy or ready; the control socket is /run/watchdog.sock,
# whose directory watchdog creates.
HEALTHCHECK CMD ["/watchdog", "health"]
ENTRYPOINT ["/watchdog"]
