#!/usr/bin/env python3
"""Measures DNS transports against the lab's unbound (doc/dns.md).

Not a test: run it by hand, as root, with a release build's dnsprobe:

    DNSPROBE=build-rel/test/tools/dnsprobe python3 test/tools/dns_transport.py

In its own lab namespace it serves a signed zone with a wildcard A record,
so every burst asks distinct names (no cache anywhere helps), and runs
dnsprobe's burst mode for each size, outstanding limit and transport:
straight through dns.c with one 10 s attempt (getdns alone: no
retransmission), and through dnscache (1 s attempts doubling, failover,
TCP after a timeout), over UDP and over TCP.  One line per run, then the
unbound and kernel UDP counters.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lab"))

import lab        # noqa: E402
import labdns     # noqa: E402
import labnet     # noqa: E402
import labrun     # noqa: E402

SIZES = [int(s) for s in os.environ.get("SIZES", "1000,20000").split(",")]
LIMITS = [int(s) for s in os.environ.get("LIMITS", "100,500").split(",")]
MODES = [
    ("udp, one attempt (getdns alone)", []),
    ("tcp, one attempt", ["--tcp"]),
    ("udp + retries (dnscache)", ["--via-cache"]),
    ("tcp + retries (dnscache)", ["--via-cache", "--tcp"]),
]

# MODES=2,3 runs only those (0-based) of the list above.
if os.environ.get("MODES"):
    MODES = [MODES[int(i)] for i in os.environ["MODES"].split(",")]


def measure(world):
    """Runs every burst configuration and prints the results."""
    world.zone("burst.example", records=["* A 192.0.2.10"])
    world.start()
    probe = os.environ["DNSPROBE"]
    print("%-34s %6s %5s  %s" % ("mode", "n", "limit", "result"))
    for n in SIZES:
        for limit in LIMITS:
            for name, args in MODES:
                before = labnet.udp_counters()
                p = subprocess.run(
                    [probe, "--resolver", labdns.RESOLVER_ADDR,
                     "--trust-anchor", world.trust_anchor,
                     "--max-outstanding", str(limit), "--burst", str(n),
                     "--zone", "burst.example"] + args,
                    capture_output=True, text=True, timeout=900)
                after = labnet.udp_counters()
                drops = after["RcvbufErrors"] - before["RcvbufErrors"]
                print("%-34s %6d %5d  %s rcvbuf_drops=%d%s" % (
                    name, n, limit, p.stdout.strip(), drops,
                    "" if p.returncode == 0 else
                    " exit %d %s" % (p.returncode, p.stderr[-300:])),
                    flush=True)


if __name__ == "__main__":
    sys.exit(labrun.main({"measure": measure}, ["measure"]))
