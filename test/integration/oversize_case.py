#!/usr/bin/env python3
"""Oversized DNS answers: RRsets too large for UDP, and over the client's cap.

Run one case:  oversize_case.py CASE     (meson registers each as lab-CASE)

- dns-tcp-tlsa: the MX host has 48 signed TLSA records (one matches) and
  90 A records; neither answer fits a 1232-byte UDP reply, so both come
  over TCP; the delivery must succeed with DANE verified: the matching
  record is not lost to truncation or to a cap.
- dns-tlsa-over-cap: TLSA RRsets of 120 records, more than mxclient takes
  from one answer (100, dns.c).  Taking the first 100 could authenticate
  with a record that happens to be among them, or, worse, keep only
  records unusable for SMTP (usage 1, which sorts first in DNSSEC order)
  and so downgrade "authenticate or defer" to unauthenticated TLS.  The
  client must not decide on a partial set: it defers (75), says why, and
  sends nothing.

Postfix 3.7.11 (posttls-finger in this lab, 120 records, the match among
them) logs "DNS record count limit (100) exceeded -- dropping excess
record(s)", keeps the first 100 and, the match being among the dropped,
reports "no matching DANE TLSA records" (a deferral for smtp(8)).  It
never authenticates wrongly either, but it decides on a partial set; we
refuse the set as a whole, which also rules out the downgrade above.
"""

import os
import secrets
import socket
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
sys.path.insert(0, HERE)

import labdns      # noqa: E402
import labnet      # noqa: E402
import labrun      # noqa: E402
from lab import expect, expect_exit, expect_result, EX_OK, EX_TEMPFAIL  # noqa: E402,E501
from labpki import Credential, tlsa   # noqa: E402
from lab_case import TIMEOUT_ARGS, message   # noqa: E402

CASES, case = labrun.registry()

# What getdns and unbound use as the EDNS UDP size (DNS flag day 2020).
UDP_SIZE = 1232



def random_tlsa(usage, count):
    """`count` TLSA records "USAGE 1 1 HEX" that match nothing."""
    return ["%d 1 1 %s" % (usage, secrets.token_hex(32)) for _ in range(count)]


def truncated_over_udp(name, rrtype):
    """Asks the lab resolver over UDP with EDNS size UDP_SIZE and the DO
    bit; True if the reply has the TC bit (the answer must come over
    TCP).  Lab sanity, so a case about TCP really needs TCP."""
    qtype = {"A": 1, "TLSA": 52}[rrtype]
    qname = b"".join(bytes([len(l)]) + l.encode()
                     for l in name.rstrip(".").split(".")) + b"\0"
    query = (struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 1) + qname
             + struct.pack(">HH", qtype, 1)
             # OPT: root name, type 41, class = UDP size, TTL: DO bit.
             + b"\0" + struct.pack(">HHIH", 41, UDP_SIZE, 0x8000, 0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((labdns.PROBE_ADDR, 0))
        s.settimeout(5)
        s.sendto(query, (labdns.RESOLVER_ADDR, 53))
        reply, _ = s.recvfrom(65535)
    flags = struct.unpack(">H", reply[2:4])[0]
    return bool(flags & 0x0200)


@case("dns-tcp-tlsa")
def case_dns_tcp_tlsa(lab):
    """48 TLSA records (47 matching nothing) and 90 A records, signed:
    both answers truncated over UDP, fetched over TCP, delivered with
    DANE verified."""
    cert = lab.pki.self_signed("mx.bigtlsa.example")
    records = random_tlsa(3, 47) + [tlsa(cert, 3, 1, 1)]
    addresses = ["192.0.2.%d" % (130 + i) for i in range(90)]
    lab.zone("bigtlsa.example", records=[
        "@ MX 10 mx"] + ["mx A %s" % a for a in addresses] +
        ["_25._tcp.mx TLSA %s" % r for r in records])
    # One server behind all 90 addresses.
    server = lab.smtp_server("192.0.2.40", {"tls": True},
                             credential=Credential(cert))
    lab.start()
    labnet.redirect("192.0.2.128/25", "192.0.2.40")
    expect(truncated_over_udp("_25._tcp.mx.bigtlsa.example", "TLSA"),
           "lab: the TLSA answer fits in UDP; the case tests nothing")
    expect(truncated_over_udp("mx.bigtlsa.example", "A"),
           "lab: the A answer fits in UDP; the case tests nothing")
    labnet.count_tcp_connects(labdns.RESOLVER_ADDR)
    msg, marker = message("dns-tcp-tlsa")
    run = lab.run_client(["user@bigtlsa.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    rec = expect_result(run, "user@bigtlsa.example", "delivered", EX_OK)
    expect(rec.get("dane") == "verified", "dane is %r, expected verified"
           % rec.get("dane"))
    expect(rec.get("address") in addresses, "delivered via %r, not one of "
           "the 90 addresses" % rec.get("address"))
    tcp = labnet.tcp_connects()
    print("dns-tcp-tlsa: %d TCP connection(s) to the resolver" % tcp)
    expect(tcp >= 1, "the client never asked the resolver over TCP")
    conns = server.connections()
    expect(any(marker.decode() in b for c in conns for b in c.bodies),
           "the server did not get the message")


@case("dns-tlsa-over-cap")
def case_dns_tlsa_over_cap(lab):
    """120 TLSA records, more than the 100 taken from an answer: one set
    with the matching record among them, one with 110 records of usage 1
    (unusable for SMTP, first in DNSSEC order) before 10 usable ones that
    match nothing.  Both deferred (75) naming the cap, and neither server
    gets a MAIL FROM."""
    servers = {}
    for domain, address, make in (
            ("capmatch.example", "192.0.2.41",
             lambda c: random_tlsa(3, 119) + [tlsa(c, 3, 1, 1)]),
            ("captrap.example", "192.0.2.42",
             lambda c: random_tlsa(1, 109) + [tlsa(c, 1, 1, 1)]
             + random_tlsa(3, 10))):
        cert = lab.pki.self_signed("mx." + domain)
        lab.zone(domain, records=["@ MX 10 mx", "mx A %s" % address] +
                 ["_25._tcp.mx TLSA %s" % r for r in make(cert)])
        servers[domain] = lab.smtp_server(address, {"tls": True},
                                          credential=Credential(cert))
    lab.start()
    msg, _ = message("dns-tlsa-over-cap")
    for domain, server in sorted(servers.items()):
        rcpt = "user@" + domain
        got = labdns.drill("_25._tcp.mx." + domain, "TLSA", timeout=5)
        expect(got and got[0] == "NOERROR" and "ad" in got[1],
               "lab: %s TLSA is not a secure answer: %r"
               % (domain, got and got[:2]))
        run = lab.run_client([rcpt], msg, TIMEOUT_ARGS)
        rec = run.record_for(rcpt) if run.records else {}
        print("%s: exit %s: %s" % (domain, run.exit, rec.get("detail")))
        expect_exit(run, EX_TEMPFAIL)
        rec = expect_result(run, rcpt, "tempfail", EX_TEMPFAIL)
        expect("more than 100 TLSA records" in rec.get("detail", ""),
               "%s: the detail does not name the cap: %r"
               % (domain, rec.get("detail")))
        expect(rec.get("dane") != "verified", "%s: dane verified on a "
               "partial TLSA set" % domain)
        sent = [c for c in server.connections() if c.commands("MAIL")]
        expect(not sent, "%s: MAIL FROM sent to the server" % domain)


if __name__ == "__main__":
    sys.exit(labrun.main(CASES, sys.argv[1:]))
