"""Quick-start demo: one real delivery through the lab, shown as it happens.

Builds a throwaway world in its own network namespace: a DNSSEC-signed
hierarchy (own root key) on nsd, the unbound resolver, and Postfix as the
MX of demo.example with STARTTLS and a DANE-EE TLSA record for its key.
Then runs mxclient -v against it so the DNS and DANE decisions and the
SMTP transcript scroll by, and prints the message as it landed in
Postfix's maildir.  Nothing leaves the namespace; everything
stops when the demo ends.

    python3 test/lab/demo.py build-demo/cli/mxclient     # as root
"""

import os
import subprocess
import sys

import lab
import labnet
import labpki

DOMAIN = "demo.example"
RECIPIENT = "you@" + DOMAIN
SENDER = "me@sender.example"
MESSAGE = (b"From: me@sender.example\n"
           b"To: you@demo.example\n"
           b"Subject: hello from mxclient\n"
           b"\n"
           b"Delivered straight to the MX, over DANE-verified TLS.\n"
           b".\n"
           b"(That lone dot above did not end the message.)\n")


def demo(client):
    """Builds the world, delivers, shows what arrived.  Returns the
    client's exit status."""
    labnet.bring_up_loopback()
    with lab.Lab("demo") as world:
        mx = "mx1." + DOMAIN
        pki = labpki.Pki(os.path.join(world.workdir, "pki"))
        cert = pki.self_signed(mx)
        world.zone(DOMAIN, signed=True, records=[
            "@ MX 10 mx1", "mx1 A 192.0.2.25", "mx1 AAAA 2001:db8::25",
            "_25._tcp.mx1 TLSA " + labpki.tlsa(cert, 3, 1, 1)])
        pf = world.postfix(mx, ["192.0.2.25", "2001:db8::25"], [DOMAIN],
                           credential=labpki.Credential(cert))
        print("== starting the lab: nsd, unbound, Postfix (namespace only)")
        world.start()
        argv = [client, "-v", "--resolver", lab.RESOLVER, "--trust-anchor",
                world.trust_anchor, "--helo", "sender.example",
                "-f", SENDER, RECIPIENT]
        print("== " + " ".join(argv) + " < message\n", flush=True)
        with open(world.message_file(MESSAGE), "rb") as stdin:
            status = subprocess.run(argv, stdin=stdin).returncode
        print("\n== mxclient exit status: %d" % status)
        pf.settle()  # Postfix hands the message to its maildir afterwards
        copies = pf.messages_for(RECIPIENT)
        print("== what Postfix stored for %s (%d cop%s):\n"
              % (RECIPIENT, len(copies), "y" if len(copies) == 1 else "ies"))
        for m in copies:
            sys.stdout.write(m.raw.decode("utf-8", "replace"))
        return status


def main():
    """Re-enters itself in a new namespace, then runs the demo."""
    if len(sys.argv) != 2:
        print("usage: demo.py PATH-TO-mxclient")
        return 64
    if not labnet.can_make_namespaces():
        print("the demo needs root (it builds a network namespace)")
        return 77
    client = os.path.abspath(sys.argv[1])
    if not labnet.inside_namespace():
        labnet.reexec_in_namespace([sys.argv[0], client])
    return demo(client)


if __name__ == "__main__":
    sys.exit(main())
