#!/bin/bash
# Runs the lab cases with every program under test (mxclient, the example,
# waves, apitest, bounds) inside valgrind memcheck, and sums up what
# valgrind found.  By hand, as root (the lab needs namespaces); not in CI:
# it takes many minutes.
#
#   test/valgrind.sh [-j N] [-b BUILDDIR] [CASE...]
#
# CASE is a test name as meson lists it (lab-basic, dane-matrix-ee,
# proxy-ssh, lab-api-lifetimes, lab-resource-bounds, lab-dns-tcp-tlsa);
# default: every lab, dane, oversize and proxy case, lab-api-lifetimes, and lab-resource-bounds with
# 100 + 1,000 deliveries instead of 100 + 10,000 (no VmRSS bound:
# valgrind's own allocator makes RSS meaningless, as ASan does; and no
# proxy commands, see below).  The build is made
# without sanitizers (valgrind and ASan do not mix) in BUILDDIR (default
# build-valgrind).  Each program run writes BUILDDIR/valgrind/CASE/vg.PID.log;
# a run with a memory error or a definite leak exits 99, so its case
# normally fails too.  A case can also fail only because valgrind makes the
# client 20-50 times slower (cases that time the client); the summary
# keeps the two apart: what counts is valgrind's verdict per log.
#
# Known: valgrind 3.19 has no pidfd_open (ENOSYS), so every proxy command
# fails under it ("proxy command ...: Function not implemented") and the
# proxy-command cases fail; their runs are still checked for errors.
#
# Suppressions (test/valgrind.supp) cover only what is inside getdns,
# libunbound, OpenSSL or wolfSSL and is explained there.
#
# Exit 0 when no log reports an error or a definite leak.
set -u
cd "$(dirname "$0")/.."
src=$PWD
jobs=2
build=build-valgrind
while getopts "j:b:" opt; do
	case $opt in
	j) jobs=$OPTARG ;;
	b) build=$OPTARG ;;
	*) echo "usage: $0 [-j N] [-b BUILDDIR] [CASE...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

if [ "$(id -u)" != 0 ]; then
	echo "valgrind.sh: the lab needs root" >&2
	exit 77
fi
command -v valgrind >/dev/null || { echo "valgrind.sh: no valgrind" >&2; exit 1; }

if [ ! -d "$build" ]; then
	meson setup "$build" -Db_sanitize=none -Dbuildtype=debugoptimized \
		>/dev/null || exit 1
fi
ninja -C "$build" >/dev/null || { echo "valgrind.sh: build failed" >&2; exit 1; }
build=$(cd "$build" && pwd)
out=$build/valgrind
rm -rf "$out"
mkdir -p "$out/bin"

# One wrapper per program: the lab runs whatever $MXCLIENT etc. name.
wrap() {
	local name=$1 real=$2
	cat >"$out/bin/$name" <<EOF
#!/bin/sh
# valgrind.sh's wrapper for $real
exec valgrind --tool=memcheck --leak-check=full \\
	--errors-for-leak-kinds=definite --show-leak-kinds=definite \\
	--error-exitcode=99 --num-callers=30 \\
	--suppressions=$src/test/valgrind.supp --gen-suppressions=all \\
	--log-file="\$MXC_VG_DIR/vg.%p.log" "$real" "\$@"
EOF
	chmod +x "$out/bin/$name"
}
wrap mxclient "$build/cli/mxclient"
wrap example "$build/examples/mxc-daemon-example"
wrap waves "$build/test/tools/waves"
wrap apitest "$build/test/tools/apitest"
wrap bounds "$build/test/tools/bounds"

# The case list: "file case" per line.
list() {
	local f
	for f in lab_case dane_case oversize_case; do
		python3 "test/integration/$f.py" --list |
			sed "s|^|test/integration/$f.py |"
	done
	python3 test/proxy/proxy_case.py --list | sed 's|^|test/proxy/proxy_case.py |'
	echo "test/tools/api_case.py api-lifetimes"
	echo "test/integration/resource_case.py resource-bounds"
}
# Maps a meson test name to "file case".
by_name() {
	local name=$1
	case $name in
	lab-api-lifetimes) echo "test/tools/api_case.py api-lifetimes" ;;
	lab-resource-bounds) echo "test/integration/resource_case.py resource-bounds" ;;
	lab-dns-tcp-tlsa|lab-dns-tlsa-over-cap)
		echo "test/integration/oversize_case.py ${name#lab-}" ;;
	lab-*) echo "test/integration/lab_case.py ${name#lab-}" ;;
	dane-*) echo "test/integration/dane_case.py ${name#dane-}" ;;
	proxy-*) echo "test/proxy/proxy_case.py ${name#proxy-}" ;;
	*) echo "valgrind.sh: unknown case $name" >&2; exit 2 ;;
	esac
}
if [ $# -gt 0 ]; then
	for n in "$@"; do by_name "$n"; done >"$out/cases"
else
	list >"$out/cases"
fi

# Runs one case with the wrappers; records PASS/FAIL and its time.
run_one() {
	local file=$1 name=$2 tag dir start rc
	tag=$(basename "$file" _case.py)-$name
	dir=$out/$tag
	mkdir -p "$dir"
	start=$(date +%s)
	MXC_VG_DIR=$dir MXCLIENT=$out/bin/mxclient MXC_EXAMPLE=$out/bin/example \
	MXC_WAVES=$out/bin/waves MXC_APITEST=$out/bin/apitest \
	MXC_BOUNDS=$out/bin/bounds MXC_BOUNDS_THEN=1000 MXC_SRCDIR=$src \
	MXC_BOUNDS_ARGS="--rss-slack 1000000 --proxy-every 0" \
		timeout 900 python3 "$file" "$name" >"$dir/case.log" 2>&1
	rc=$?
	echo "$tag $rc $(( $(date +%s) - start ))" >>"$out/results"
}
export -f run_one
export out src
started=$(date +%s)
xargs -P "$jobs" -L 1 bash -c 'run_one "$0" "$1"' <"$out/cases"

# Valgrind's verdict, log by log.
python3 - "$out" "$(( $(date +%s) - started ))" <<'PY'
import glob, os, re, sys
out, took = sys.argv[1], int(sys.argv[2])
logs = errors = definite = 0
bad = []
unfinished = []
paths = sorted(glob.glob(os.path.join(out, "*", "vg.*.log")))
# valgrind opens a log for every child at fork; one that then runs an
# untraced program (a proxy command) leaves a header only.  Its parent's
# pid names another log of the same case.
pids = {(os.path.dirname(p), os.path.basename(p).split(".")[1])
        for p in paths}
for path in paths:
    text = open(path, errors="replace").read()
    parent = re.search(r"Parent PID: (\d+)", text)
    if "ERROR SUMMARY" not in text and parent and \
            (os.path.dirname(path), parent.group(1)) in pids:
        continue
    if "ERROR SUMMARY" not in text:
        # Killed before valgrind's verdict: a case that gave up on a
        # client slowed down by valgrind.
        unfinished.append(os.path.relpath(path, out))
        continue
    logs += 1
    e = int(re.search(r"ERROR SUMMARY: ([\d,]+) errors", text).group(1)
            .replace(",", ""))
    m = re.search(r"definitely lost: ([\d,]+) bytes", text)
    d = int(m.group(1).replace(",", "")) if m else 0
    errors += e
    definite += d
    if e or d:
        bad.append("%s: %d errors, %d bytes definitely lost"
                   % (os.path.relpath(path, out), e, d))
cases = [l.split() for l in open(os.path.join(out, "results"))]
failed = [c for c in cases if c[1] != "0"]
print("valgrind: %d cases in %d s, %d program runs checked, %d errors, "
      "%d bytes definitely lost" % (len(cases), took, logs, errors, definite))
for b in bad:
    print("  " + b)
if unfinished:
    print("  %d program runs killed before valgrind's verdict: %s"
          % (len(unfinished), " ".join(unfinished)))
for c in failed:
    print("  case %s exited %s after %s s (see %s/%s/case.log)"
          % (c[0], c[1], c[2], out, c[0]))
sys.exit(1 if bad or not logs else 0)
PY
