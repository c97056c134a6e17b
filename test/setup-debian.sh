#!/bin/sh
# Installs what mxclient needs to build and to run its lab on Debian 12:
# the libraries, the build tools, and the real servers the tests start
# (unbound, nsd, Postfix) - without letting any of them start as a system
# service.  Run as root.
set -eu
export DEBIAN_FRONTEND=noninteractive

# Postfix must not ask questions, nor start on the machine's own port 25.
echo "postfix postfix/main_mailer_type select No configuration" |
	debconf-set-selections
# Keep package scripts from starting daemons: the tests start their own.
policy=/usr/sbin/policy-rc.d
own_policy=no
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy"
	chmod 755 "$policy"
	own_policy=yes
fi
trap '[ "$own_policy" = yes ] && rm -f "$policy"' EXIT

# python3-dnspython and python3-cryptography sign the replies of the
# sigcheck test (an implementation of DNSSEC independent of ours);
# gnuplot-nox draws the benchmark's plot; clang and its runtime build the
# fuzz targets; dpkg-dev (apt-get source), make and the autotools build
# -Dwolfssl=subproject, whose source test/fetch-wolfssl-source.sh fetches.
apt-get update -q
apt-get install -y -q --no-install-recommends \
	gcc libc6-dev pkg-config meson ninja-build \
	libevent-dev libgetdns-dev libwolfssl-dev \
	unbound nsd ldnsutils dns-root-data postfix \
	iproute2 nftables util-linux openssl python3 ca-certificates \
	python3-dnspython python3-cryptography \
	microsocks dante-server openssh-server openssh-client \
	gnuplot-nox clang libclang-rt-14-dev \
	dpkg-dev make autoconf automake libtool
