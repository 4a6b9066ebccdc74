#!/bin/sh
# Install Debian's chromium for the browser tests when missing (Playwright drives it).
set -eu
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium package (the browser tests' headless browser)..."
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
    exit 0
fi
echo "chromium is missing: install Debian's 'chromium' package" \
     "(sudo apt-get install chromium) and run make test again." >&2
exit 1
