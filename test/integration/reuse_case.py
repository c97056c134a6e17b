#!/usr/bin/env python3
"""Connection reuse lab cases: sessions kept in the pool and used again.

Run one case:  reuse_case.py CASE      (meson registers each as reuse-CASE)
List them:     reuse_case.py --list

Each case counts connections where they arrive (Postfix's maillog, the
scripted server's transcript) and checks that every recipient still has its
own result with its own reply, that a session is never shared across TLS
policies, and that a failure on a reused session costs a reconnect, never a
deferral nor a second copy.
"""

import math
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
sys.path.insert(0, HERE)

import labrun      # noqa: E402
from lab import (expect, expect_exit, expect_result,   # noqa: E402
                 EX_OK, EX_NOUSER, EX_TEMPFAIL)
from labpki import Credential, tlsa   # noqa: E402
from lab_case import TIMEOUT_ARGS, message   # noqa: E402
from dane_case import dane_zone   # noqa: E402

CASES, case = labrun.registry()



def postfix_connections(pf, settle=5.0):
    """Connections that carried mail, from the "disconnect from" lines of
    Postfix's smtpd (the lab's readiness probes send no MAIL): how many,
    and the MAIL commands they carried in all.  Waits until the log stops
    growing (smtpd logs the disconnect just after the client's QUIT)."""
    deadline = time.monotonic() + settle
    last = None
    while True:
        with open(pf.maillog, encoding="utf-8", errors="replace") as f:
            mails = [int(m) for m in re.findall(
                r"smtpd\[\d+\]: disconnect from .* mail=(\d+)", f.read())]
        if mails == last or time.monotonic() > deadline:
            return len(mails), sum(mails)
        last = mails
        time.sleep(0.3)


def stats_line(run, what):
    """The client's counters line that starts with `what:`."""
    for line in run.stderr.splitlines():
        if line.startswith(what + ":"):
            return line
    return ""


def dane_postfix(lab, domain, address):
    """A signed domain whose MX is a Postfix with a DANE-EE 3 1 1 match."""
    cert = lab.pki.self_signed("mx." + domain)
    dane_zone(lab, domain, address, [tlsa(cert, 3, 1, 1)])
    return lab.postfix("mx." + domain, [address], [domain],
                       credential=Credential(cert))


def run_many(lab, pf, domain, count, args=()):
    """Delivers `count` recipients at `domain`; checks every one arrived
    once, verified by DANE, each with its own reply.  Returns the run."""
    rcpts = ["u%03d@%s" % (i, domain) for i in range(count)]
    msg, marker = message("reuse")
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS + list(args), timeout=110)
    print("client took %.2f s; %s" % (run.elapsed, stats_line(run, "smtp")))
    bad = [(r.get("recipient"), r.get("detail")) for r in run.records
           if r.get("status") != "delivered"]
    expect(not bad, "%d not delivered, e.g. %r" % (len(bad), bad[:3]))
    expect_exit(run, EX_OK)
    expect(len(run.records) == count, "%d JSON lines, expected %d"
           % (len(run.records), count))
    for r in rcpts:
        rec = expect_result(run, r, "delivered", EX_OK)
        expect(rec.get("dane") == "verified", "%s: dane %r" % (r, rec.get("dane")))
        expect(str(rec.get("reply", "")).startswith("250"),
               "%s: reply %r" % (r, rec.get("reply")))
    expect(pf.settle(), "mail still in flight")
    got = {}
    for m in pf.messages():
        expect(marker in m.raw, "a copy lacks the marker")
        for to in m.delivered_to:
            got[to.lower()] = got.get(to.lower(), 0) + 1
    for r in rcpts:
        expect(got.get(r) == 1, "%s arrived %s times" % (r, got.get(r, 0)))
    return run


@case("postfix")
def case_postfix(lab):
    """500 recipients at one DANE domain, -j 100: every one arrives once,
    verified, over at most ceil(500/100) + 20 connections (counted by
    Postfix); the client says how many transactions reused a connection."""
    pf = dane_postfix(lab, "reuse.example", "192.0.2.10")
    lab.start()
    run = run_many(lab, pf, "reuse.example", 500, ["-j", "100"])
    conns, mails = postfix_connections(pf)
    expect(mails == 500, "Postfix saw %d MAIL commands, expected 500" % mails)
    limit = math.ceil(500 / 100) + 20
    print("reuse-postfix: %d connections for 500 deliveries" % conns)
    expect(0 < conns <= limit, "%d connections, expected at most %d"
           % (conns, limit))
    expect("connections" in stats_line(run, "smtp"), "no smtp: stats line")
    # Every result carries its own evidence, reused connection or not:
    # the attempt says which, and the certificate and matched TLSA record
    # are the same as a fresh connection's.
    reused = [r for r in run.records
              if r.get("attempts") and r["attempts"][-1].get("reused")]
    expect(len(reused) >= 500 - conns, "%d results say they reused a "
           "connection, expected at least %d" % (len(reused), 500 - conns))
    prints = {(r.get("certificate") or {}).get("sha256") for r in run.records}
    matched = {str(r.get("tlsa_matched")) for r in run.records}
    expect(len(prints) == 1 and None not in prints and len(matched) == 1
           and "None" not in matched, "evidence differs between results: "
           "fingerprints %r, matched records %r" % (prints, matched))


@case("off")
def case_off(lab):
    """--reuse 1 turns reuse off: 40 recipients, 40 connections (so the
    count in reuse-postfix can fail)."""
    pf = dane_postfix(lab, "noreuse.example", "192.0.2.10")
    lab.start()
    run_many(lab, pf, "noreuse.example", 40, ["--reuse", "1"])
    conns, _ = postfix_connections(pf)
    expect(conns == 40, "%d connections, expected 40" % conns)


def resumptions(run):
    """The client's count of resumed TLS handshakes, from its stats line."""
    m = re.search(r"(\d+) TLS resumptions", stats_line(run, "smtp"))
    return int(m.group(1)) if m else None


@case("tls-resume")
def case_tls_resume(lab):
    """--reuse 1 (a connection per delivery), one at a time: six
    recipients at a DANE domain on Postfix make six connections, and the
    second to the sixth resume the TLS 1.3 session of an earlier one (the
    client's count), each still reported "dane": "verified"."""
    pf = dane_postfix(lab, "resume.example", "192.0.2.10")
    lab.start()
    run = run_many(lab, pf, "resume.example", 6,
                   ["--reuse", "1", "-j", "1", "-v"])
    conns, _ = postfix_connections(pf)
    expect(conns == 6, "%d connections, expected 6" % conns)
    expect(resumptions(run) == 5, "%r TLS resumptions, expected 5 (%s)"
           % (resumptions(run), stats_line(run, "smtp")))
    resumed = [l for l in run.stderr.splitlines()
               if "TLSv1.3" in l and ", resumed," in l]
    expect(len(resumed) == 5 and
           all("DANE verified" in l for l in resumed),
           "log lines of resumed TLS: %r" % resumed)


@case("tls-resume-policies")
def case_tls_resume_policies(lab):
    """a.example and b.example share MX host, address and TLSA record on
    Postfix, but not the DANE reference names, so not the policy: with
    --reuse 1, one at a time, a.example's session is never resumed for
    b.example (nor the other way round); each domain's second connection
    resumes its own: two resumptions for four deliveries, all verified."""
    cert = lab.pki.self_signed("mx.shared.example")
    lab.zone("shared.example", records=[
        "mx A 192.0.2.10", "_25._tcp.mx TLSA %s" % tlsa(cert, 3, 1, 1)])
    for d in ("a", "b"):
        lab.zone(d + ".example", records=["@ MX 10 mx.shared.example."])
    pf = lab.postfix("mx.shared.example", ["192.0.2.10"],
                     ["a.example", "b.example"], credential=Credential(cert))
    lab.start()
    rcpts = ["u%d@%s.example" % (n, d) for n in (1, 2) for d in "ab"]
    msg, _ = message("resume-policies")
    run = lab.run_client(rcpts, msg,
                         TIMEOUT_ARGS + ["--reuse", "1", "-j", "1"])
    expect_exit(run, EX_OK)
    for r in rcpts:
        rec = expect_result(run, r, "delivered", EX_OK)
        expect(rec.get("dane") == "verified", "%s: dane %r"
               % (r, rec.get("dane")))
    expect(resumptions(run) == 2, "%r TLS resumptions, expected 2 (%s)"
           % (resumptions(run), stats_line(run, "smtp")))


@case("policies")
def case_policies(lab):
    """Four domains on one MX address (192.0.2.10), two recipients each,
    one delivery at a time.  a.example and b.example are signed with the
    same MX host and TLSA record (but DANE's reference names differ: the
    policies are not the same), c.example is unsigned (opportunistic TLS),
    d.example names another MX host on the same address with another TLSA
    record.  Each domain's second delivery reuses its own connection, and
    no connection ever carries two domains."""
    cert = lab.pki.self_signed("mx.shared.example")
    lab.zone("shared.example", records=[
        "mx A 192.0.2.10", "mxd A 192.0.2.10",
        "_25._tcp.mx TLSA %s" % tlsa(cert, 3, 1, 1),
        "_25._tcp.mxd TLSA %s" % tlsa(cert, 3, 0, 1)])
    for d in ("a", "b"):
        lab.zone(d + ".example", records=["@ MX 10 mx.shared.example."])
    lab.zone("c.example", signed=False,
             records=["@ MX 10 mx.shared.example."])
    lab.zone("d.example", records=["@ MX 10 mxd.shared.example."])
    server = lab.smtp_server("192.0.2.10", {"tls": True},
                             credential=Credential(cert))
    lab.start()
    rcpts = ["u%d@%s.example" % (n, d) for n in (1, 2) for d in "abcd"]
    msg, _ = message("policies")
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS + ["-j", "1"])
    expect_exit(run, EX_OK)
    for r in rcpts:
        rec = expect_result(run, r, "delivered", EX_OK)
        want = "none" if r.endswith("c.example") else "verified"
        expect(rec.get("dane") == want, "%s: dane %r, expected %s"
               % (r, rec.get("dane"), want))
    conns = server.connections()
    domains = []
    for c in conns:
        seen = {l.split("@")[-1].rstrip(">").lower()
                for l in c.commands("RCPT")}
        expect(len(seen) <= 1, "connection %d carried %s" % (c.number, seen))
        domains.append(sorted(seen))
    expect(len(conns) == 4, "%d connections, expected 4 (one per policy): %r"
           % (len(conns), domains))


@case("mid-session")
def case_mid_session(lab):
    """On one reused connection: a 450 to RCPT (deferred), a 550 5.1.1
    (bounced), then a delivery; RSET only after the two rejected RCPTs
    (a transaction was open), never after the delivery."""
    lab.zone("mid.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10", {
        "rcpt": ["450 4.2.0 mailbox busy", "550 5.1.1 no such user",
                 "250 2.1.5 Ok"]})
    lab.start()
    rcpts = ["a@mid.example", "b@mid.example", "c@mid.example"]
    msg, marker = message("mid")
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS + ["-j", "1"])
    expect_exit(run, EX_TEMPFAIL)
    a = expect_result(run, "a@mid.example", "tempfail", EX_TEMPFAIL)
    b = expect_result(run, "b@mid.example", "permfail", EX_NOUSER)
    expect_result(run, "c@mid.example", "delivered", EX_OK)
    expect(str(a.get("reply")).startswith("450") and
           str(b.get("reply")).startswith("550"),
           "replies %r, %r" % (a.get("reply"), b.get("reply")))
    conns = server.connections()
    expect(len(conns) == 1, "%d connections, expected 1" % len(conns))
    c = conns[0]
    expect(len(c.commands("MAIL")) == 3, "MAIL sent %d times"
           % len(c.commands("MAIL")))
    expect(len(c.commands("RSET")) == 2, "RSET sent %d times, expected 2"
           % len(c.commands("RSET")))
    expect(len(c.bodies) == 1 and marker.decode() in c.bodies[0],
           "%d messages arrived, expected 1" % len(c.bodies))


def reconnect_case(lab, domain, mail_replies):
    """Two recipients, one at a time; on every connection the second MAIL
    gets the scripted trouble: both are delivered, over two connections,
    one copy each."""
    lab.zone(domain, records=["@ MX 10 mx", "mx A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10", {"mail": mail_replies})
    lab.start()
    rcpts = ["a@" + domain, "b@" + domain]
    msg, _ = message("reconnect")
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS + ["-j", "1"])
    expect_exit(run, EX_OK)
    for r in rcpts:
        expect_result(run, r, "delivered", EX_OK)
    conns = server.connections()
    expect(len(conns) == 2, "%d connections, expected 2" % len(conns))
    bodies = sum(len(c.bodies) for c in conns)
    expect(bodies == 2, "%d messages arrived, expected 2" % bodies)


@case("idle-closed")
def case_idle_closed(lab):
    """A server that drops a kept connection when it is used again costs a
    reconnect, not a deferral."""
    reconnect_case(lab, "closed.example", ["250 2.1.0 Ok", "close"])


@case("421")
def case_421(lab):
    """A 421 to MAIL on a kept connection costs a reconnect, not a
    deferral."""
    reconnect_case(lab, "busy.example",
                   ["250 2.1.0 Ok", "421 4.3.2 shutting down"])


@case("drop-after-dot")
def case_drop_after_dot(lab):
    """The connection drops after the final dot of the second transaction
    on a kept connection: that recipient is deferred (the message may have
    arrived) and never sent again, here or elsewhere."""
    lab.zone("dot.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10", {
        "eod": ["250 2.0.0 Ok: queued", "close"]})
    lab.start()
    rcpts = ["a@dot.example", "b@dot.example"]
    msg, _ = message("dot")
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS + ["-j", "1"])
    expect_exit(run, EX_TEMPFAIL)
    expect_result(run, "a@dot.example", "delivered", EX_OK)
    rec = expect_result(run, "b@dot.example", "tempfail", EX_TEMPFAIL)
    expect("may have been delivered" in str(rec.get("detail")),
           "detail %r" % rec.get("detail"))
    conns = server.connections()
    expect(len(conns) == 1, "%d connections, expected 1: no retry"
           % len(conns))
    expect(len(conns[0].bodies) == 2, "%d messages sent, expected 2"
           % len(conns[0].bodies))


if __name__ == "__main__":
    sys.exit(labrun.main(CASES, sys.argv[1:]))
