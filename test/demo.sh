#!/bin/sh
# Quick start, part 1 (Debian 12, as root): installs the dependencies,
# builds mxclient, and delivers one message through the bundled lab (real
# nsd, unbound and Postfix in a network namespace), showing the transcript.
set -eu
cd "$(dirname "$0")/.."
test/setup-debian.sh >/dev/null
# A build directory of its own: .ci/run deletes and rebuilds its build-ci-*,
# and a developer's build/ may be configured otherwise.
[ -d build-demo ] || meson setup build-demo >/dev/null
meson compile -C build-demo >/dev/null
exec python3 test/lab/demo.py build-demo/cli/mxclient
