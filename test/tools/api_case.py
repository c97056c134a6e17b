"""Lab case for the library's lifetime rules: runs test/tools/apitest (a C
program on the public API, built with the sanitizers like the rest) against
a real lab: one domain whose MX is Postfix, one whose MX accepts and never
greets.  apitest checks cancel (in flight and queued), the engine freed
inside a completion and with deliveries outstanding, refused parameters,
and (through a relaying proxy command) that no file descriptor or child
process outlives the engine; ASan checks the memory behind all of it.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lab"))

import lab        # noqa: E402
import labrun     # noqa: E402


def case_api_lifetimes(world):
    """apitest passes every scenario against real servers."""
    world.zone("good.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    world.zone("silent.example", records=["@ MX 10 mx", "mx A 192.0.2.20"])
    world.postfix("mx.good.example", ["192.0.2.10"], ["good.example"])
    silent = world.smtp_server("192.0.2.20", {"greeting": "never"})
    world.start()
    relay = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                         "proxy", "tee_relay.py")
    command = "%s %s %s %%h %%p" % (sys.executable, relay,
                                    os.path.join(world.workdir, "relay"))
    run = world.run_program(
        [os.environ["MXC_APITEST"], "--resolver", lab.RESOLVER,
         "--trust-anchor", world.trust_anchor,
         "--silent", "user@silent.example", "--good", "user@good.example",
         "--proxy-command", command],
        b"", timeout=90)
    print(run.stdout, end="")
    print(run.stderr, end="")
    lab.expect(run.exit == 0, "apitest exit %r" % run.exit)
    for scenario in ("cancel", "free-in-callback", "free-outstanding",
                     "bad-params", "bad-helo", "bad-config", "no-leaks"):
        lab.expect("ok " + scenario in run.stdout,
                   "apitest did not report %s as ok" % scenario)
    lab.expect(len(silent.connections(settle=0.5)) >= 1,
               "the silent server was never reached: cancel tested nothing")


if __name__ == "__main__":
    sys.exit(labrun.main({"api-lifetimes": case_api_lifetimes}, sys.argv[1:]))
