#!/bin/sh
# Make Debian's chromium available for the browser tests (tests/browser).
#
# Idempotent and never fatal: when chromium is already installed it does
# nothing; when it cannot be installed (not root, no apt, no network) it says
# why and exits 0, and the browser tests skip with that reason instead of
# failing. Set PREP_CHROMIUM to use another binary.
set -u

found() {
    for candidate in "${PREP_CHROMIUM:-}" chromium chromium-browser; do
        [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && return 0
    done
    return 1
}

if found; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: no apt-get here; browser tests will be skipped" >&2
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "ensure_chromium: not root and no passwordless sudo; browser tests will be skipped" >&2
        exit 0
    fi
else
    SUDO=""
fi
echo "ensure_chromium: installing Debian's chromium (first run only)" >&2
if $SUDO apt-get update -qq >/dev/null && \
   DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
       chromium fonts-liberation >/dev/null; then
    exit 0
fi
echo "ensure_chromium: apt-get could not install chromium; browser tests will be skipped" >&2
exit 0
