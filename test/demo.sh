#!/bin/sh
# Quick start, part 1 (Debian 12, as root): installs the dependencies,
# builds mxclient, and delivers one message through the bundled lab (real
# nsd, unbound and Postfix in a network namespace), showing the transcript.
set -eu
cd "$(dirname "$0")/.."
test/setup-debian.sh >/dev/null
[ -d build ] || meson setup build >/dev/null
meson compile -C build >/dev/null
exec python3 test/lab/demo.py build/cli/mxclient
