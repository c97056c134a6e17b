#!/usr/bin/env python3
"""Resource bounds: many deliveries in one process hold no more than a few.

Run one case:  resource_case.py CASE     (meson registers each as lab-CASE)

The work is done by test/tools/bounds.c ($MXC_BOUNDS), a program on the
public API: it runs 100 deliveries with mixed outcomes, counts its file
descriptors, child processes, VmRSS and heap in use, runs 10,000 more and
counts again.  This file builds the world those deliveries go to and checks
that each kind of outcome really happened (a run where everything failed
the same way would prove little).

Set MXC_BOUNDS_LEAK=N to have bounds leak one descriptor every N
completions on purpose: the case must then fail.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lab"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lab         # noqa: E402
import labrun      # noqa: E402
from lab import expect, EX_OK, EX_TEMPFAIL, EX_NOUSER, EX_NOHOST  # noqa: E402
from labpki import Credential, damaged, tlsa   # noqa: E402

CASES, case = labrun.registry()

# How the deliveries end, per recipient: (JSON-ish status, exit status).
# The list is used in turn, so the "ok" recipient (the common case in real
# life) comes up most often.
OUTCOMES = [
    ("user@ok.example", "delivered", EX_OK),
    ("user@t4xx.example", "tempfail", EX_TEMPFAIL),
    ("user@ok.example", "delivered", EX_OK),
    ("user@p5xx.example", "permfail", EX_NOUSER),
    ("user@ok.example", "delivered", EX_OK),
    ("user@refused.example", "tempfail", EX_TEMPFAIL),
    ("user@ok.example", "delivered", EX_OK),
    ("user@danebad.example", "tempfail", EX_TEMPFAIL),
    ("user@ok.example", "delivered", EX_OK),
    ("user@nosuch.example", "permfail", EX_NOHOST),
]



@case("resource-bounds")
def case_resource_bounds(world):
    """100 then 10,000 deliveries (delivered, 450, 550, refused, DANE
    mismatch, NXDOMAIN; one in 20 through a proxy command) in one process:
    no more descriptors or children after the 10,000 than after the 100,
    heap within 256 KiB and VmRSS within 4 MiB of it."""
    for domain, address in (("ok.example", "192.0.2.10"),
                            ("t4xx.example", "192.0.2.11"),
                            ("p5xx.example", "192.0.2.12"),
                            ("refused.example", "192.0.2.13")):
        world.zone(domain, records=["@ MX 10 mx", "mx A %s" % address])
    cert = world.pki.self_signed("mx.danebad.example")
    world.zone("danebad.example", records=[
        "@ MX 10 mx", "mx A 192.0.2.14",
        "_25._tcp.mx TLSA %s" % damaged(tlsa(cert, 3, 1, 1))])
    # "quiet": no per-line transcript, only connections (volume).
    ok = world.smtp_server("192.0.2.10", {"quiet": True})
    world.smtp_server("192.0.2.11", {"quiet": True,
                                     "rcpt": "450 4.2.1 try later"})
    world.smtp_server("192.0.2.12", {"quiet": True,
                                     "rcpt": "550 5.1.1 no such user"})
    world.smtp_server("192.0.2.14", {"quiet": True, "tls": True},
                      credential=Credential(cert))
    world.start()
    lab.expect_refused("192.0.2.13")
    argv = [lab.client_path("MXC_BOUNDS"), "--resolver", lab.RESOLVER,
            "--trust-anchor", world.trust_anchor,
            "--first", os.environ.get("MXC_BOUNDS_FIRST", "100"),
            "--then", os.environ.get("MXC_BOUNDS_THEN", "10000")]
    if os.environ.get("MXC_BOUNDS_LEAK"):
        argv += ["--leak-fd", os.environ["MXC_BOUNDS_LEAK"]]
    # Extra options for experiments by hand, e.g. "--proxy-every 1".
    argv += os.environ.get("MXC_BOUNDS_ARGS", "").split()
    argv += [rcpt for rcpt, _, _ in OUTCOMES]
    started = time.monotonic()
    run = world.run_program(argv, b"", timeout=600)
    print(run.stdout, end="")
    with open(os.path.join(world.workdir, "bounds.stderr"), "w") as f:
        f.write(run.stderr)
    print("resource-bounds: bounds took %.1f s" % (time.monotonic() - started))
    expect(run.exit == 0, "bounds exit %r:\n%s" % (run.exit, run.stderr[-3000:]))
    expect("ok bounds" in run.stdout.splitlines(), "bounds did not say ok")
    seen = {}
    for line in run.stdout.splitlines():
        fields = line.split()
        if fields[:1] == ["outcome"]:
            seen[(fields[1], fields[2])] = (int(fields[3]), int(fields[4]))
    for rcpt, status, code in OUTCOMES:
        got = seen.get((rcpt, status))
        expect(got is not None and got[0] == code,
               "%s: never ended %s with exit %d (seen: %r)"
               % (rcpt, status, code, sorted(seen)))
    expect(len(seen) == len(set(r for r, _, _ in OUTCOMES)),
           "a recipient ended in more than one way: %r" % sorted(seen))
    # Connections are reused, so count messages: each delivery reported
    # must be one the sink read to its final dot.
    messages = ok.message_count()
    expect(messages >= seen[("user@ok.example", "delivered")][1],
           "the sink read %d messages for more deliveries" % messages)


if __name__ == "__main__":
    sys.exit(labrun.main(CASES, sys.argv[1:]))
