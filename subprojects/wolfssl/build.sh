#!/bin/sh
# Builds wolfSSL from Debian's source package (subprojects/wolfssl/source) for
# meson's custom_target: configure (again only when the options change),
# make, and install into a staging prefix inside the build directory; then
# copies the static library and options.h to the outputs meson tracks, and
# writes a depfile so that a changed source file rebuilds it.
# Usage: build.sh SRCDIR WORKDIR PREFIX OUT_LIB OUT_OPTIONS DEPFILE CC... -- CONFIGURE_OPTIONS...
set -eu
src=$1 work=$2 prefix=$3 out_lib=$4 out_options=$5 depfile=$6
shift 6
cc=
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	cc="$cc${cc:+ }$1"
	shift
done
[ $# -gt 0 ] && shift

mkdir -p "$work"
# What configure was run with; a different line means a fresh configure.
want="CC=$cc $*"
if [ ! -f "$work/config.status" ] || [ "$(cat "$work/meson-configure-line" 2>/dev/null)" != "$want" ]; then
	rm -rf "$work" "$prefix"
	mkdir -p "$work"
	(cd "$work" && "$src/configure" CC="$cc" --prefix="$prefix" "$@") \
		> "$work/meson-configure.log" 2>&1 || {
		tail -n 40 "$work/meson-configure.log" >&2
		echo "wolfSSL configure failed: see $work/meson-configure.log" >&2
		exit 1
	}
	printf '%s\n' "$want" > "$work/meson-configure-line"
fi

jobs=$(nproc 2>/dev/null || echo 2)
make -C "$work" -j"$jobs" install > "$work/meson-make.log" 2>&1 || {
	tail -n 40 "$work/meson-make.log" >&2
	echo "wolfSSL build failed: see $work/meson-make.log" >&2
	exit 1
}
cp "$prefix/lib/libwolfssl.a" "$out_lib"
cp "$prefix/include/wolfssl/options.h" "$out_options"

# Every file of the source tree, as make itself would see it.
{
	printf '%s:' "$out_lib"
	find "$src" -name autom4te.cache -prune -o -type f -print |
		sed 's/ /\\ /g; s/^/ \\\n  /'
	printf '\n'
} > "$depfile"
