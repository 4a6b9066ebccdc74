#!/bin/sh
# Install promtool and prometheus (Debian's `prometheus` package) when missing.
set -eu
if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's prometheus package (promtool and the Prometheus server)..."
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus >/dev/null
    exit 0
fi
echo "promtool and prometheus are missing: install Debian's 'prometheus' package" \
     "(sudo apt-get install prometheus) and run make test again." >&2
exit 1
