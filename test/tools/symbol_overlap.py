#!/usr/bin/env python3
"""wolfSSL and OpenSSL in one process: no shared symbol may be called.

getdns brings OpenSSL's libssl and libcrypto into the process beside
wolfSSL, and the two export some functions under the same names (six in
Debian 12's packages, e.g. SSL_SESSION_set1_id).  Whichever library the
dynamic linker finds first answers every call of such a name, so a call from
getdns or OpenSSL could land in wolfSSL, or ours in OpenSSL.  This check
fails if any object loaded by the given programs imports one of those
names.

    symbol_overlap.py PROGRAM_OR_LIBRARY...

Prints the overlap and exits 0 when nothing imports it, 1 otherwise, 77
(skip) when the program does not load both libraries (wolfSSL linked
statically, for instance: then nothing of it is exported to interpose).
"""

import re
import subprocess
import sys


def loaded_objects(path):
    """The shared objects `path` loads (ldd), by name -> file."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True,
                         check=True).stdout
    objs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            objs[m.group(1)] = m.group(2)
    return objs


def dynamic_symbols(path, defined):
    """Names in the dynamic symbol table: defined ones, or imported ones."""
    flag = "--defined-only" if defined else "--undefined-only"
    out = subprocess.run(["nm", "-D", flag, path], capture_output=True,
                         text=True).stdout
    names = set()
    for line in out.splitlines():
        fields = line.split()
        if fields:
            names.add(fields[-1].split("@")[0])
    return names


def main(argv):
    """Checks every program given; see the module docstring."""
    if not argv:
        print(__doc__.strip())
        return 64
    status = 77
    for program in argv:
        objs = loaded_objects(program)
        wolf = [f for n, f in objs.items() if n.startswith("libwolfssl")]
        ossl = [f for n, f in objs.items()
                if n.startswith(("libssl.", "libcrypto."))]
        if not wolf or not ossl:
            print("%s: does not load both wolfSSL and OpenSSL "
                  "dynamically" % program)
            continue
        overlap = dynamic_symbols(wolf[0], True) & set().union(
            *(dynamic_symbols(f, True) for f in ossl))
        print("%s: %d names exported by both wolfSSL and OpenSSL: %s"
              % (program, len(overlap), " ".join(sorted(overlap))))
        callers = {}
        for obj in [program] + list(objs.values()):
            for name in dynamic_symbols(obj, False) & overlap:
                callers.setdefault(name, []).append(obj)
        if callers:
            for name, objs_calling in sorted(callers.items()):
                print("FAIL: %s is imported by %s"
                      % (name, ", ".join(objs_calling)))
            return 1
        print("%s: none of them is imported by any loaded object"
              % program)
        status = 0
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
