#!/bin/sh
# Fetches Debian's own wolfSSL source package into subprojects/wolfssl/source
# for `meson setup -Dwolfssl=subproject` (nothing is vendored in the tree).
# Enables the deb-src entries of bookworm if needed, takes the newest
# 5.5.4-2+deb12uN that apt offers (security fixes included; never a newer
# upstream), unpacks it with Debian's patches applied, and runs autoreconf
# (the tarball has no configure script).  Does nothing when the source is
# already there.  Run as root (it edits apt's sources and runs apt-get).
set -eu
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/.."

dest=subprojects/wolfssl/source
# The upstream line the subproject's configure options were written for.
upstream=5.5.4-2+deb12u

if [ -f "$dest/configure" ]; then
	echo "wolfSSL source already in $dest:" \
		"$(dpkg-parsechangelog -l "$dest/debian/changelog" -S Version)"
	exit 0
fi

# deb-src for every bookworm entry, in the deb822 file of a stock Debian 12
# (a fresh machine has only "Types: deb") and in a one-line sources.list.
# Rewritten only when something is missing, so running twice changes nothing.
changed=no
deb822=/etc/apt/sources.list.d/debian.sources
if [ -f "$deb822" ]; then
	awk '
	# One stanza at a time: add deb-src to Types when Suites names bookworm.
	function flush(   i) {
		for (i = 1; i <= n; i++) {
			if (i == types && bookworm && line[i] !~ /(^|[ \t])deb-src([ \t]|$)/)
				line[i] = line[i] " deb-src"
			print line[i]
		}
		n = 0; types = 0; bookworm = 0
	}
	/^[ \t]*$/ { flush(); print; next }
	{ line[++n] = $0 }
	/^Types:/ { types = n }
	/^Suites:/ && /(^|[ \t])bookworm/ { bookworm = 1 }
	END { flush() }
	' "$deb822" > "$deb822.new"
	if cmp -s "$deb822" "$deb822.new"; then
		rm -f "$deb822.new"
	else
		mv "$deb822.new" "$deb822"
		changed=yes
	fi
fi
list=/etc/apt/sources.list
if [ -f "$list" ]; then
	# Each "deb URI bookworm... COMPONENTS" line gets its deb-src twin.
	awk '
	{ print; seen[$0] = 1 }
	/^deb[ \t]/ && $3 ~ /^bookworm/ { twin = $0; sub(/^deb/, "deb-src", twin); want[++n] = twin }
	END { for (i = 1; i <= n; i++) if (!(want[i] in seen)) print want[i] }
	' "$list" > "$list.new"
	if cmp -s "$list" "$list.new"; then
		rm -f "$list.new"
	else
		mv "$list.new" "$list"
		changed=yes
	fi
fi
if [ "$changed" = yes ] || ! apt-cache showsrc wolfssl 2>/dev/null | grep -q '^Version:'; then
	apt-get update -q
fi

version=$(apt-cache showsrc wolfssl | awk '/^Version:/ { print $2 }' |
	grep -F "$upstream" | sort -V | tail -n 1)
if [ -z "$version" ]; then
	echo "no wolfssl source package $upstream* in apt's deb-src entries" >&2
	exit 1
fi

# Unpack beside the destination and rename it into place at the end, so an
# interrupted run leaves no half-prepared tree behind.
work=$(mktemp -d subprojects/wolfssl/.fetch.XXXXXX)
trap 'rm -rf "$work"' EXIT
# apt drops privileges to _apt for the download when it can write there.
chown _apt "$work" 2>/dev/null || true
(cd "$work" && apt-get source -q "wolfssl=$version")
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'wolfssl-*')
(cd "$src" && autoreconf -fi) > "$work/autoreconf.log" 2>&1 || {
	cat "$work/autoreconf.log" >&2
	exit 1
}
mv "$src" "$dest"
echo "wolfSSL $version unpacked in $dest"
