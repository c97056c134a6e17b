#!/usr/bin/env python3
"""End-to-end lab cases: the real client against real DNS and SMTP servers.

Run one case:  lab_case.py CASE      (meson registers each as lab-CASE)
List them:     lab_case.py --list

Each case builds its own world in its own network namespace (see
test/lab/), runs $MXCLIENT (or $MXC_EXAMPLE) and checks BOTH the client's
exit status / JSON results AND what the servers actually received.  Checks
are made so that each one can fail: mailboxes are checked empty before,
copies are counted exactly, and the lab itself is probed so a case cannot
pass for the wrong reason (e.g. a "refused" host that was not refusing).

Exit codes of the client (sysexits): see EX_* below.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lab"))

import labdns   # noqa: E402
import labnet   # noqa: E402
import labpki   # noqa: E402
import labrun   # noqa: E402
from lab import (CaseFailure, expect, expect_exit,   # noqa: E402
                 expect_refused, expect_blackholed,
                 expect_result, EX_OK, EX_NOUSER, EX_NOHOST,
                 EX_UNAVAILABLE, EX_TEMPFAIL)

# A short --timeout keeps a misbehaving client from eating the case's time;
# scaled stage timeouts never go below one second.
TIMEOUT_ARGS = ["--timeout", "10"]

CASES, case = labrun.registry()



# --- helpers ---------------------------------------------------------------

def message(tag, body=b"", extra_headers=b""):
    """A complete message with a unique marker, so copies can be identified.

    Date and Message-ID are included so Postfix adds none of its own.
    """
    marker = ("lab-marker-%s-%d" % (tag, os.getpid())).encode()
    return (b"From: Lab Sender <lab-sender@sender.example>\n"
            b"To: lab recipients <undisclosed@example>\n"
            b"Subject: lab case " + tag.encode() + b"\n"
            b"Date: Mon, 23 Nov 2026 00:00:00 +0000\n"
            b"Message-ID: <" + marker + b"@sender.example>\n"
            + extra_headers +
            b"X-Lab-Marker: " + marker + b"\n"
            b"\n"
            b"Hello from the lab (" + marker + b").\n" + body), marker


def expect_only_second_host(first, second, marker, what):
    """A fallback after the first host failed at STARTTLS: STARTTLS was
    tried there, nothing of the envelope or message went there (`what`
    says why that matters), and the second host got the message once."""
    conns = first.connections()
    expect(conns and conns[0].commands("STARTTLS"),
           "first host: STARTTLS was not tried")
    expect(not any(c.commands("MAIL") or c.bodies for c in conns), what)
    bodies = [b for c in second.connections() for b in c.bodies]
    expect(len(bodies) == 1 and marker.decode() in bodies[0],
           "second host got %d messages, expected 1" % len(bodies))


def same_host(a, b):
    """Host names compared without case or trailing dot."""
    return str(a or "").rstrip(".").lower() == str(b or "").rstrip(".").lower()


def expect_copies(pf, recipient, count, marker=None):
    """Exactly `count` copies for `recipient` reached this Postfix."""
    expect(pf.settle(), "postfix %s still has mail in flight" % pf.hostname)
    copies = pf.messages_for(recipient)
    expect(len(copies) == count, "%s has %d copies for %s, expected %d"
           % (pf.hostname, len(copies), recipient, count))
    if marker:
        for m in copies:
            expect(marker in m.raw, "copy for %s lacks marker %s"
                   % (recipient, marker.decode()))
    return copies


def expect_empty(pf):
    """No message at all in this Postfix's maildir (and none in flight)."""
    expect(pf.settle(), "postfix %s still has mail in flight" % pf.hostname)
    got = pf.messages()
    expect(not got, "%s received %d message(s), expected none: %s"
           % (pf.hostname, len(got), [m.delivered_to for m in got]))


def expect_no_connection(server):
    """The scripted server must never have been contacted."""
    conns = server.connections()
    expect(not conns, "%s got %d connection(s), expected none"
           % (server.address, len(conns)))


def expect_dns(name, rrtype, rcode, ad=None):
    """Lab sanity: the lab resolver answers as the case assumes."""
    got = labdns.drill(name, rrtype, timeout=5)
    expect(got is not None, "lab: no DNS answer for %s %s" % (name, rrtype))
    expect(got[0] == rcode, "lab: %s %s gave %s, expected %s"
           % (name, rrtype, got[0], rcode))
    if ad is not None:
        expect(("ad" in got[1]) == ad, "lab: %s %s AD bit %s, expected %s"
               % (name, rrtype, "ad" in got[1], ad))


def expect_asked(lab, name, rrtype="MX"):
    """The client really asked the resolver (so a failure it reports came
    from the answer, not from a lookup it never made)."""
    want = (name.rstrip(".").lower() + ".", rrtype)
    expect(want in lab.resolver_queries(), "the resolver was never asked "
           "%s %s" % want)


def one_mx_zone(lab, domain, address, signed=True, pref=10):
    """A zone whose only MX is mx.DOMAIN at `address`."""
    lab.zone(domain, signed=signed, records=[
        "@ MX %d mx" % pref,
        "mx %s %s" % ("AAAA" if ":" in address else "A", address),
    ])
    return "mx.%s" % domain


def two_mx_zone(lab, domain, addr10, addr20):
    """A zone with mx1 (pref 10) at addr10 and mx2 (pref 20) at addr20."""
    lab.zone(domain, records=[
        "@ MX 10 mx1", "@ MX 20 mx2",
        "mx1 A %s" % addr10, "mx2 A %s" % addr20,
    ])
    return "mx1." + domain, "mx2." + domain


def unstuff(wire_body):
    """A DATA body as the server saw it, dot-unstuffed, CRLF kept."""
    lines = wire_body.split("\r\n")
    return "\r\n".join(l[1:] if l.startswith(".") else l for l in lines)


# --- delivery to Postfix ---------------------------------------------------

@case("basic")
def case_basic(lab):
    """One recipient, one Postfix MX, STARTTLS: the everyday path."""
    lab.zone("basic.example", records=[
        "@ MX 10 mx1", "mx1 A 192.0.2.10", "mx1 AAAA 2001:db8::10"])
    pf = lab.postfix("mx1.basic.example", ["192.0.2.10", "2001:db8::10"],
                     ["basic.example"])
    lab.start()
    expect_empty(pf)
    msg, marker = message("basic")
    run = lab.run_client(["user@basic.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    rec = expect_result(run, "user@basic.example", "delivered", EX_OK)
    expect(str(rec.get("tls", "")).startswith("TLS"),
           "tls is %r, expected a TLS version" % rec.get("tls"))
    expect(same_host(rec.get("mx"), "mx1.basic.example"),
           "mx is %r" % rec.get("mx"))
    expect(rec.get("address") in ("192.0.2.10", "2001:db8::10"),
           "address is %r" % rec.get("address"))
    expect(str(rec.get("reply", "")).startswith("250"),
           "reply is %r" % rec.get("reply"))
    expect(rec.get("dane") == "none", "dane is %r" % rec.get("dane"))
    expect(isinstance(rec.get("elapsed_ms"), int) and rec["elapsed_ms"] >= 0,
           "elapsed_ms is %r" % rec.get("elapsed_ms"))
    # One delivery never waits for a --jobs slot.
    expect(rec.get("queue_ms") == 0, "queue_ms is %r" % rec.get("queue_ms"))
    copy = expect_copies(pf, "user@basic.example", 1, marker)[0]
    received = copy.headers.get("Received", "")
    expect("ESMTPS" in received,
           "Postfix did not record a TLS session: %r" % received)
    expect(len(pf.messages()) == 1, "extra messages in the maildir")
    # The client offers X25519 first: half the CPU of wolfSSL's P-256.
    expect("key-exchange X25519" in received,
           "the TLS key exchange was not X25519: %r" % received)


@case("mx-preference")
def case_mx_preference(lab):
    """Two working MX hosts: every delivery goes to the preferred one."""
    mx1, _mx2 = two_mx_zone(lab, "pref.example", "192.0.2.10", "192.0.2.20")
    pf1 = lab.postfix(mx1, ["192.0.2.10"], ["pref.example"])
    pf2 = lab.postfix("mx2.pref.example", ["192.0.2.20"], ["pref.example"])
    lab.start()
    expect_empty(pf1)
    expect_empty(pf2)
    rcpts = ["a@pref.example", "b@pref.example", "c@pref.example"]
    msg, marker = message("pref")
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    for r in rcpts:
        rec = expect_result(run, r, "delivered", EX_OK)
        expect(same_host(rec.get("mx"), mx1), "%s went to %r" % (r, rec.get("mx")))
        expect(rec.get("address") == "192.0.2.10",
               "%s address %r" % (r, rec.get("address")))
        expect_copies(pf1, r, 1, marker)
    expect_empty(pf2)


@case("mx-fallback-refused")
def case_mx_fallback_refused(lab):
    """The preferred MX refuses connections: the next one gets the mail."""
    _mx1, mx2 = two_mx_zone(lab, "refused.example", "192.0.2.10", "192.0.2.20")
    pf2 = lab.postfix(mx2, ["192.0.2.20"], ["refused.example"])
    lab.start()
    expect_refused("192.0.2.10")
    expect_empty(pf2)
    msg, marker = message("refused")
    run = lab.run_client(["user@refused.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    rec = expect_result(run, "user@refused.example", "delivered", EX_OK)
    expect(same_host(rec.get("mx"), mx2), "mx is %r" % rec.get("mx"))
    expect(rec.get("address") == "192.0.2.20", "address %r" % rec.get("address"))
    expect_copies(pf2, "user@refused.example", 1, marker)


@case("mx-fallback-greeting-4xx")
def case_mx_fallback_greeting_4xx(lab):
    """The preferred MX greets 421: the next one gets the mail."""
    _mx1, mx2 = two_mx_zone(lab, "busy.example", "192.0.2.10", "192.0.2.20")
    busy = lab.smtp_server("192.0.2.10", {"greeting": "421 4.3.2 busy, later"})
    pf2 = lab.postfix(mx2, ["192.0.2.20"], ["busy.example"])
    lab.start()
    expect_empty(pf2)
    msg, marker = message("busy")
    run = lab.run_client(["user@busy.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    rec = expect_result(run, "user@busy.example", "delivered", EX_OK)
    expect(same_host(rec.get("mx"), mx2), "mx is %r" % rec.get("mx"))
    conns = busy.connections()
    expect(len(conns) == 1, "busy host got %d connections, expected 1"
           % len(conns))
    expect(not conns[0].commands("MAIL"), "MAIL sent after a 421 greeting")
    expect_copies(pf2, "user@busy.example", 1, marker)


@case("mx-fallback-mail-451")
def case_mx_fallback_mail_451(lab):
    """4xx to MAIL FROM: the next MX host is tried and takes the mail."""
    _mx1, _mx2 = two_mx_zone(lab, "mail451.example", "192.0.2.10", "192.0.2.20")
    first = lab.smtp_server("192.0.2.10", {"mail": "451 4.3.0 try later"})
    second = lab.smtp_server("192.0.2.20")
    lab.start()
    msg, marker = message("mail451")
    run = lab.run_client(["user@mail451.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    expect_result(run, "user@mail451.example", "delivered", EX_OK)
    c1 = first.connections()
    expect(len(c1) == 1 and c1[0].commands("MAIL") and not c1[0].bodies,
           "first host: expected MAIL and no message")
    c2 = second.connections()
    bodies = [b for c in c2 for b in c.bodies]
    expect(len(bodies) == 1 and marker.decode() in bodies[0],
           "second host got %d messages, expected 1 with the marker"
           % len(bodies))


@case("mx-fallback-drop-before-dot")
def case_mx_fallback_drop_before_dot(lab):
    """The connection drops at DATA (before any dot): next host delivers."""
    _mx1, _mx2 = two_mx_zone(lab, "dropdata.example", "192.0.2.10",
                             "192.0.2.20")
    first = lab.smtp_server("192.0.2.10", {"data": "close"})
    second = lab.smtp_server("192.0.2.20")
    lab.start()
    msg, marker = message("dropdata")
    run = lab.run_client(["user@dropdata.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    expect_result(run, "user@dropdata.example", "delivered", EX_OK)
    expect(len(first.connections()) == 1, "first host not tried once")
    bodies = [b for c in second.connections() for b in c.bodies]
    expect(len(bodies) == 1 and marker.decode() in bodies[0],
           "second host got %d messages, expected 1" % len(bodies))


@case("mx-fallback-tls-failure")
def case_mx_fallback_tls_failure(lab):
    """STARTTLS is offered and accepted, then no TLS handshake follows:
    that host failed, the next one takes the mail (never in plaintext on
    the broken one)."""
    _mx1, _mx2 = two_mx_zone(lab, "tlsfail.example", "192.0.2.10",
                             "192.0.2.20")
    first = lab.smtp_server("192.0.2.10", {"tls": True,
                                           "tls_handshake": "garbage"})
    second = lab.smtp_server("192.0.2.20")
    lab.start()
    msg, marker = message("tlsfail")
    run = lab.run_client(["user@tlsfail.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    rec = expect_result(run, "user@tlsfail.example", "delivered", EX_OK)
    expect(rec.get("address") == "192.0.2.20", "address %r"
           % rec.get("address"))
    expect_only_second_host(first, second, marker,
                            "first host got MAIL or the message without TLS")


@case("starttls-injection")
def case_starttls_injection(lab):
    """The 220 to STARTTLS comes with a second, plaintext reply stuck to
    it (command injection): the client must not use that connection."""
    _mx1, _mx2 = two_mx_zone(lab, "inject.example", "192.0.2.10", "192.0.2.20")
    first = lab.smtp_server("192.0.2.10", {
        "tls": True, "starttls": "220 2.0.0 Ready\n250 injected"})
    second = lab.smtp_server("192.0.2.20")
    lab.start()
    msg, marker = message("inject")
    run = lab.run_client(["user@inject.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    rec = expect_result(run, "user@inject.example", "delivered", EX_OK)
    expect(rec.get("address") == "192.0.2.20", "address %r"
           % rec.get("address"))
    expect_only_second_host(first, second, marker,
                            "the injected connection was used for MAIL")


@case("scripted-starttls")
def case_scripted_starttls(lab):
    """STARTTLS with a scripted server: EHLO again after TLS, the envelope
    and message only inside TLS, and the JSON names the TLS version the
    server negotiated."""
    lab.zone("tls.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10", {"tls": True})
    lab.start()
    msg, marker = message("tls")
    run = lab.run_client(["user@tls.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    rec = expect_result(run, "user@tls.example", "delivered", EX_OK)
    conns = server.connections()
    expect(len(conns) == 1 and conns[0].tls, "no TLS session recorded")
    expect(rec.get("tls") == conns[0].tls, "JSON tls %r, server says %r"
           % (rec.get("tls"), conns[0].tls))
    kinds = [(e["event"], e.get("line", "")) for e in conns[0].events]
    tls_at = kinds.index(("tls", ""))
    before = [l for k, l in kinds[:tls_at] if k == "recv"]
    after = [l for k, l in kinds[tls_at:] if k == "recv"]
    expect(not any(l.upper().startswith(("MAIL", "RCPT", "DATA"))
                   for l in before), "envelope sent before TLS: %r" % before)
    expect(after and after[0].upper().startswith("EHLO"),
           "no EHLO right after TLS: %r" % after[:1])
    expect(len(conns[0].bodies) == 1 and marker.decode() in conns[0].bodies[0],
           "message not received")


@case("ehlo-long")
def case_ehlo_long(lab):
    """An EHLO reply of some 6 KB with STARTTLS and SIZE on its last lines:
    capabilities come from every line, not from the 4 KB of text kept for
    reports, so TLS is used and the SIZE limit is honoured."""
    lab.zone("longehlo.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    pad = ["250-X-PAD-%02d-%s" % (i, "p" * 90) for i in range(60)]
    ehlo = "\n".join(["250-{name}"] + pad + ["250 SIZE 100000000"])
    server = lab.smtp_server("192.0.2.10", {"tls": True, "ehlo": ehlo})
    lab.start()
    msg, marker = message("longehlo")
    run = lab.run_client(["user@longehlo.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    rec = expect_result(run, "user@longehlo.example", "delivered", EX_OK)
    conns = server.connections()
    expect(len(conns) == 1 and conns[0].tls,
           "STARTTLS past the first 4 KB of EHLO was not used")
    expect(rec.get("tls") == conns[0].tls, "JSON tls %r" % rec.get("tls"))
    mail = conns[0].commands("MAIL")
    expect(mail and "SIZE=" in mail[-1].upper(),
           "SIZE past the first 4 KB was not seen: %r" % mail)


@case("reply-extra")
def case_reply_extra(lab):
    """A server that answers MAIL with two replies (without PIPELINING) would
    have its second taken for the RCPT reply: a protocol error, deferred,
    and the message is never sent."""
    lab.zone("extra.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10", {
        "mail": "250 2.1.0 Ok\n250 2.1.5 Ok"})
    lab.start()
    msg, marker = message("extra")
    run = lab.run_client(["user@extra.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_TEMPFAIL)
    rec = expect_result(run, "user@extra.example", "tempfail", EX_TEMPFAIL)
    expect("data after a complete reply" in rec.get("detail", ""),
           "detail is %r" % rec.get("detail"))
    for c in server.connections():
        expect(not c.commands("DATA") and not c.bodies,
               "the dialogue went on to DATA: %r" % c.received)


# Hostile servers: (name, script, stage timeout in seconds at --timeout 10,
# the exit status, a pattern the detail must match).  RFC 5321 4.5.3.2 scaled
# by 10/600: greeting, EHLO, MAIL, RCPT 5 s; DATA 2 s, raised to the 5 s
# floor every scaled stage keeps; the final reply 10 s.
HOSTILE = [
    ("greet-trickle", {"greeting": "trickle"}, 5, EX_TEMPFAIL, "timed out"),
    ("greet-endless", {"greeting": "endless"}, 5, EX_TEMPFAIL, "protocol"),
    ("greet-huge", {"greeting": "huge"}, 5, EX_TEMPFAIL, "too long|without a line end"),
    ("greet-reset", {"greeting": "reset"}, 5, EX_TEMPFAIL, "reset by peer"),
    ("ehlo-trickle", {"ehlo": "trickle"}, 5, EX_TEMPFAIL, "timed out"),
    ("ehlo-endless", {"ehlo": "endless"}, 5, EX_TEMPFAIL, "protocol"),
    ("mail-reset", {"mail": "reset"}, 5, EX_TEMPFAIL, "lost"),
    ("rcpt-huge", {"rcpt": "huge"}, 5, EX_TEMPFAIL, "too long|without a line end"),
    ("rcpt-close", {"rcpt": "close"}, 5, EX_TEMPFAIL, "lost"),
    ("data-trickle", {"data": "trickle"}, 5, EX_TEMPFAIL, "timed out"),
    # The message went out; a final reply that never completes is a doubt.
    ("eod-trickle", {"eod": "trickle"}, 10, EX_TEMPFAIL, "timed out"),
    ("eod-reset", {"eod": "reset"}, 10, EX_TEMPFAIL, "lost"),
    # Control and 8-bit bytes in a rejection: shown escaped, never raw.
    ("rcpt-controls",
     {"rcpt": "550 5.1.1 \x1b[31mred\x1b[0m caf\udcc3\udca9 \udcff\x07"},
     5, EX_NOUSER, "550"),
]


@case("hostile")
def case_hostile(lab):
    """Servers that trickle, never end a reply, send a megabyte line, reset
    or close at each stage, or put control bytes in their replies: each
    delivery ends within its stage's deadline with a temporary failure
    (the rejection: a permanent one), and no raw control byte reaches the
    JSON or the progress output."""
    for i, (name, script, _limit, _status, _word) in enumerate(HOSTILE):
        address = "192.0.2.%d" % (100 + i)
        lab.zone("%s.example" % name, records=["@ MX 10 mx",
                                               "mx A %s" % address])
        lab.smtp_server(address, script)
    lab.start()
    msg, _marker = message("hostile")
    rcpts = ["user@%s.example" % h[0] for h in HOSTILE]
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS, timeout=60)
    print("hostile: client took %.2f s" % run.elapsed)
    expect(run.exit == EX_TEMPFAIL, "exit %r, expected %d"
           % (run.exit, EX_TEMPFAIL))
    expect(not run.bad_lines, "stdout lines that are not JSON: %r"
           % run.bad_lines[:3])
    for name, _script, limit, status, word in HOSTILE:
        rec = expect_result(run, "user@%s.example" % name,
                            "permfail" if status == EX_NOUSER
                            else "tempfail", status)
        took = rec.get("elapsed_ms", 0) - rec.get("queue_ms", 0)
        print("  %s: %d ms: %s" % (name, took, rec.get("detail")))
        # One stage deadline, plus time to connect and reach the stage.
        expect(took <= (limit + 3) * 1000, "%s: took %d ms, its stage "
               "allows %d s" % (name, took, limit))
        expect(re.search(word, rec.get("detail", "")),
               "%s: detail %r lacks %r" % (name, rec.get("detail"), word))
    for where, text in (("stdout", run.stdout), ("stderr", run.stderr)):
        raw = [c for c in text if (ord(c) < 0x20 and c not in "\n") or
               c in "\x7f\ufffd"]
        expect(not raw, "raw control or invalid bytes in %s: %r"
               % (where, raw[:5]))
    rec = run.record_for("user@rcpt-controls.example")
    expect("\\x1b" in rec.get("reply", "") and
           "\\xff" in rec.get("reply", ""),
           "the rejection's control bytes are not shown escaped: %r"
           % rec.get("reply"))


@case("mx-fallback-greeting-5xx")
def case_mx_fallback_greeting_5xx(lab):
    """The preferred MX greets 554: a refusal of that host only, so the
    next one gets the mail."""
    _mx1, _mx2 = two_mx_zone(lab, "greet554.example", "192.0.2.10",
                             "192.0.2.20")
    first = lab.smtp_server("192.0.2.10", {"greeting": "554 5.3.2 go away"})
    second = lab.smtp_server("192.0.2.20")
    lab.start()
    msg, marker = message("greet554")
    run = lab.run_client(["user@greet554.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    expect_result(run, "user@greet554.example", "delivered", EX_OK)
    conns = first.connections()
    expect(len(conns) == 1 and not conns[0].commands("MAIL"),
           "first host: expected one connection and no MAIL")
    bodies = [b for c in second.connections() for b in c.bodies]
    expect(len(bodies) == 1 and marker.decode() in bodies[0],
           "second host got %d messages, expected 1" % len(bodies))


@case("mx-equal-preference")
def case_mx_equal_preference(lab):
    """Two MX hosts of equal preference for 16 domains: the choice is
    random, so both hosts get mail (all on one host: p = 2**-15)."""
    lab.zone("pool.example", records=["mxa A 192.0.2.10", "mxb A 192.0.2.20"])
    domains = ["eq%02d.example" % i for i in range(16)]
    for d in domains:
        lab.zone(d, records=["@ MX 10 mxa.pool.example.",
                             "@ MX 10 mxb.pool.example."])
    a = lab.smtp_server("192.0.2.10")
    b = lab.smtp_server("192.0.2.20")
    lab.start()
    rcpts = ["user@" + d for d in domains]
    msg, marker = message("equal")
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    for r in rcpts:
        expect_result(run, r, "delivered", EX_OK)
    got_a = [b_ for c in a.connections() for b_ in c.bodies]
    got_b = [b_ for c in b.connections() for b_ in c.bodies]
    print("mx-equal-preference: %d to mxa, %d to mxb"
          % (len(got_a), len(got_b)))
    expect(len(got_a) + len(got_b) == 16, "%d messages arrived, expected 16"
           % (len(got_a) + len(got_b)))
    expect(got_a and got_b, "all mail went to one host: %d/%d"
           % (len(got_a), len(got_b)))


@case("ipv6-only")
def case_ipv6_only(lab):
    """An MX with only an AAAA record: delivered over IPv6."""
    lab.zone("six.example", records=["@ MX 10 mx", "mx AAAA 2001:db8::25"])
    pf = lab.postfix("mx.six.example", ["2001:db8::25"], ["six.example"])
    lab.start()
    expect_empty(pf)
    msg, marker = message("six")
    run = lab.run_client(["user@six.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    rec = expect_result(run, "user@six.example", "delivered", EX_OK)
    expect(rec.get("address") == "2001:db8::25", "address %r"
           % rec.get("address"))
    copy = expect_copies(pf, "user@six.example", 1, marker)[0]
    expect("2001:db8::25" in copy.headers.get("Received", ""),
           "Postfix did not see an IPv6 client: %r"
           % copy.headers.get("Received"))


@case("custom-port")
def case_custom_port(lab):
    """--port sends to another port than 25 (nothing listens on 25)."""
    lab.zone("port.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10", port=2525)
    lab.start()
    expect_refused("192.0.2.10", 25)
    msg, marker = message("port")
    run = lab.run_client(["user@port.example"], msg,
                         ["--port", "2525"] + TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    expect_result(run, "user@port.example", "delivered", EX_OK)
    bodies = [b for c in server.connections() for b in c.bodies]
    expect(len(bodies) == 1 and marker.decode() in bodies[0],
           "server on 2525 got %d messages, expected 1" % len(bodies))


@case("implicit-mx")
def case_implicit_mx(lab):
    """No MX records: the domain's own A/AAAA is the MX (RFC 5321 5.1)."""
    lab.zone("implicit.example", records=[
        "@ A 192.0.2.10", "@ AAAA 2001:db8::10", "www A 192.0.2.99"])
    pf = lab.postfix("implicit.example", ["192.0.2.10", "2001:db8::10"],
                     ["implicit.example"])
    lab.start()
    expect_dns("implicit.example", "MX", "NOERROR", ad=True)
    expect_empty(pf)
    msg, marker = message("implicit")
    run = lab.run_client(["user@implicit.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    rec = expect_result(run, "user@implicit.example", "delivered", EX_OK)
    expect(same_host(rec.get("mx"), "implicit.example"),
           "mx is %r" % rec.get("mx"))
    expect_copies(pf, "user@implicit.example", 1, marker)


# --- DNS failures ----------------------------------------------------------

def expect_unreached(rec, kind):
    """A domain never reached says so in the JSON result as data: the
    failure kind, the DNS stage, dane "unreached", no server, no attempt,
    the MX answer's DNSSEC status, and times that add up."""
    for key, want in (("kind", kind), ("stage", "dns"), ("dane", "unreached"),
                      ("mx", ""), ("address", ""), ("attempts", []),
                      ("certificate", None), ("tlsrpt", None),
                      ("reply_code", 0)):
        expect(rec.get(key) == want, "%s is %r, expected %r"
               % (key, rec.get(key), want))
    expect(rec.get("dnssec", {}).get("mx") == "secure",
           "dnssec %r, expected the MX answer secure" % rec.get("dnssec"))
    expect(rec.get("queue_ms", -1) + rec.get("delivery_ms", -1)
           == rec.get("elapsed_ms"), "queue_ms + delivery_ms != elapsed_ms")
    expect(isinstance(rec.get("ended_at"), str), "no ended_at")


@case("null-mx")
def case_null_mx(lab):
    """MX 0 . (RFC 7505): permanent failure, and no connection at all,
    not even to the domain's own A record."""
    lab.zone("nullmx.example", records=["@ MX 0 .", "@ A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10")
    lab.start()
    msg, _ = message("nullmx")
    run = lab.run_client(["user@nullmx.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_NOHOST)
    rec = expect_result(run, "user@nullmx.example", "permfail", EX_NOHOST)
    expect_unreached(rec, "null-mx")
    expect_asked(lab, "nullmx.example")
    expect_no_connection(server)


@case("nxdomain")
def case_nxdomain(lab):
    """A domain that does not exist: permanent, 68."""
    lab.zone("exists.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10")
    lab.start()
    expect_dns("no-such-domain.example", "MX", "NXDOMAIN", ad=True)
    msg, _ = message("nxdomain")
    run = lab.run_client(["user@no-such-domain.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_NOHOST)
    rec = expect_result(run, "user@no-such-domain.example", "permfail",
                        EX_NOHOST)
    expect_unreached(rec, "no-domain")
    expect_asked(lab, "no-such-domain.example")
    expect_no_connection(server)


@case("servfail")
def case_servfail(lab):
    """The domain's name servers are lame (SERVFAIL): temporary, 75."""
    lab.servfail_name("broken.example")
    lab.start()
    expect_dns("broken.example", "MX", "SERVFAIL")
    msg, _ = message("servfail")
    run = lab.run_client(["user@broken.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_TEMPFAIL)
    expect_result(run, "user@broken.example", "tempfail", EX_TEMPFAIL)
    expect_asked(lab, "broken.example")


@case("bogus-mx")
def case_bogus_mx(lab):
    """A signed zone whose MX signature is broken: 75, nothing sent, and no
    fallback to the domain's A record."""
    lab.zone("bogus.example", corrupt_rrsig="MX", records=[
        "@ MX 10 mx", "mx A 192.0.2.10", "@ A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10")
    lab.start()
    expect_dns("bogus.example", "MX", "SERVFAIL")
    expect_dns("mx.bogus.example", "A", "NOERROR", ad=True)
    msg, _ = message("bogus")
    run = lab.run_client(["user@bogus.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_TEMPFAIL)
    expect_result(run, "user@bogus.example", "tempfail", EX_TEMPFAIL)
    expect_asked(lab, "bogus.example")
    expect_no_connection(server)


@case("dnssec-resolver")
def case_dnssec_resolver(lab):
    """--dnssec resolver (the lab's unbound is on this namespace's lo, so it
    counts as local): a signed MX is secure by the AD bit, an unsigned one
    insecure, and a bogus one still fails (unbound answers SERVFAIL; the
    client never sets CD, so bogus data cannot come back as insecure)."""
    lab.zone("adsigned.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    lab.zone("adplain.example", signed=False,
             records=["@ MX 10 mx", "mx A 192.0.2.10"])
    lab.zone("adbogus.example", corrupt_rrsig="MX", records=[
        "@ MX 10 mx", "mx A 192.0.2.10", "@ A 192.0.2.10"])
    pf = lab.postfix("mx.adsigned.example", ["192.0.2.10"],
                     ["adsigned.example", "adplain.example",
                      "adbogus.example"])
    lab.start()
    expect_dns("adbogus.example", "MX", "SERVFAIL")
    msg, marker = message("adbit")
    rcpts = ["a@adsigned.example", "b@adplain.example", "c@adbogus.example"]
    run = lab.run_client(rcpts, msg, ["--dnssec", "resolver"] + TIMEOUT_ARGS)
    expect_exit(run, EX_TEMPFAIL)
    expect_result(run, rcpts[0], "delivered", EX_OK)
    expect_result(run, rcpts[1], "delivered", EX_OK)
    expect_result(run, rcpts[2], "tempfail", EX_TEMPFAIL)
    expect("MX for adsigned.example (dnssec secure)" in run.stderr,
           "the signed MX was not secure by the AD bit")
    expect("MX for adplain.example (dnssec insecure)" in run.stderr,
           "the unsigned MX was not insecure")
    expect_copies(pf, rcpts[0], 1, marker)
    expect_copies(pf, rcpts[1], 1, marker)
    expect(not any("c@adbogus.example" in m.delivered_to
                   for m in pf.messages()), "the bogus domain got mail")


@case("bogus-ds")
def case_bogus_ds(lab):
    """The parent's DS matches no key of the zone: bogus, 75, nothing sent."""
    lab.zone("wrongds.example", wrong_ds=True, records=[
        "@ MX 10 mx", "mx A 192.0.2.10", "@ A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10")
    lab.start()
    expect_dns("wrongds.example", "MX", "SERVFAIL")
    msg, _ = message("wrongds")
    run = lab.run_client(["user@wrongds.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_TEMPFAIL)
    expect_result(run, "user@wrongds.example", "tempfail", EX_TEMPFAIL)
    expect_asked(lab, "wrongds.example")
    expect_no_connection(server)


# --- one scripted reply per SMTP stage -------------------------------------

# name -> (script override, exit, status, reply prefix, whether the message
#          reaches the server, whether a pref-20 host exists and must stay
#          untouched (None: there is no second host))
STAGES = {
    "greeting-554": ({"greeting": "554 5.3.2 no SMTP service here"},
                     EX_TEMPFAIL, "tempfail", "554", False, None),
    "ehlo-502-helo": ({"ehlo": "502 5.5.2 EHLO not implemented"},
                      EX_OK, "delivered", "250", True, None),
    "mail-451": ({"mail": "451 4.3.0 try again later"},
                 EX_TEMPFAIL, "tempfail", "451", False, None),
    "mail-553": ({"mail": "553 5.1.8 sender address rejected"},
                 EX_UNAVAILABLE, "permfail", "553", False, True),
    "rcpt-450": ({"rcpt": "450 4.2.0 mailbox busy"},
                 EX_TEMPFAIL, "tempfail", "450", False, True),
    "rcpt-550-unknown": ({"rcpt": "550 5.1.1 no such user"},
                         EX_NOUSER, "permfail", "550", False, True),
    "rcpt-550-plain": ({"rcpt": "550 denied"},
                       EX_UNAVAILABLE, "permfail", "550", False, True),
    "data-451": ({"data": "451 4.3.0 local problem"},
                 EX_TEMPFAIL, "tempfail", "451", False, None),
    "data-554": ({"data": "554 5.6.0 no thanks"},
                 EX_UNAVAILABLE, "permfail", "554", False, True),
    "eod-452": ({"eod": "452 4.3.1 insufficient storage"},
                EX_TEMPFAIL, "tempfail", "452", True, True),
    "eod-554": ({"eod": "554 5.7.1 message refused"},
                EX_UNAVAILABLE, "permfail", "554", True, True),
}


def run_stage_case(lab, name):
    """One host answers one stage as scripted; checks the outcome and
    what the server saw (and that a second host was left alone)."""
    script, code, status, reply, body_expected, second_host = STAGES[name]
    domain = "stage.example"
    records = ["@ MX 10 mx1", "mx1 A 192.0.2.10"]
    if second_host:
        records += ["@ MX 20 mx2", "mx2 A 192.0.2.20"]
    lab.zone(domain, records=records)
    server = lab.smtp_server("192.0.2.10", script)
    other = lab.smtp_server("192.0.2.20") if second_host else None
    lab.start()
    rcpt = "user@" + domain
    msg, marker = message(name)
    run = lab.run_client([rcpt], msg, TIMEOUT_ARGS)
    expect_exit(run, code)
    rec = expect_result(run, rcpt, status, code)
    expect(str(rec.get("reply", "")).startswith(reply),
           "reply is %r, expected it to start with %s" % (rec.get("reply"),
                                                           reply))
    conns = server.connections()
    expect(len(conns) == 1, "server got %d connections, expected 1"
           % len(conns))
    bodies = conns[0].bodies
    if body_expected:
        expect(len(bodies) == 1 and marker.decode() in bodies[0],
               "server got %d messages, expected 1 with the marker"
               % len(bodies))
    else:
        expect(not bodies, "server got a message it should not have")
    if other:
        expect_no_connection(other)
    return conns[0]


def stage_case(name, extra_check=None):
    """Registers a stage case from the STAGES table."""
    def func(lab):
        """Runs the table's row (the docstring is replaced below)."""
        conn = run_stage_case(lab, name)
        if extra_check:
            extra_check(conn)
    func.__doc__ = "Scripted stage reply: %s." % name
    case("stage-" + name)(func)


def check_helo_fallback(conn):
    """After EHLO was refused the client must have said HELO."""
    expect(conn.commands("EHLO") and conn.commands("HELO"),
           "expected EHLO then HELO, got %r" % conn.received[:3])


def check_no_data_after_rcpt_failure(conn):
    """With no accepted recipient, DATA must not be sent."""
    expect(not conn.commands("DATA"), "DATA sent with no accepted recipient")


for _name in STAGES:
    _extra = None
    if _name == "ehlo-502-helo":
        _extra = check_helo_fallback
    elif _name.startswith("rcpt-"):
        _extra = check_no_data_after_rcpt_failure
    stage_case(_name, _extra)


@case("stage-multiline")
def case_stage_multiline(lab):
    """Multi-line replies at every stage are read whole."""
    lab.zone("multi.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10", {
        "greeting": "220-multi.example ESMTP\n220-second line\n220 ready",
        "mail": "250-2.1.0 sender\n250 2.1.0 ok",
        "rcpt": "250-2.1.5 first\n250-2.1.5 second\n250 2.1.5 ok",
        "eod": "250-2.0.0 queued\n250 2.0.0 as ABC123",
    })
    lab.start()
    msg, marker = message("multi")
    run = lab.run_client(["user@multi.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    rec = expect_result(run, "user@multi.example", "delivered", EX_OK)
    reply = str(rec.get("reply", ""))
    expect("queued" in reply and "ABC123" in reply,
           "reply %r does not hold both lines of the final reply" % reply)
    conns = server.connections()
    expect(len(conns) == 1 and len(conns[0].bodies) == 1
           and marker.decode() in conns[0].bodies[0],
           "expected one connection carrying the message")


# --- connection trouble ----------------------------------------------------

@case("dropped-after-dot")
def case_dropped_after_dot(lab):
    """The server closes right after the final dot: the message may have
    been taken, so 75, not delivered, and NOT sent again elsewhere."""
    _mx1, _mx2 = two_mx_zone(lab, "dropdot.example", "192.0.2.10", "192.0.2.20")
    first = lab.smtp_server("192.0.2.10", {"eod": "close"})
    second = lab.smtp_server("192.0.2.20")
    lab.start()
    msg, marker = message("dropdot")
    run = lab.run_client(["user@dropdot.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_TEMPFAIL)
    expect_result(run, "user@dropdot.example", "tempfail", EX_TEMPFAIL)
    conns = first.connections()
    expect(len(conns) == 1 and len(conns[0].bodies) == 1
           and marker.decode() in conns[0].bodies[0],
           "first host should have received the message once")
    expect(conns[0].ended_by == "drop", "first host: connection ended by %r"
           % conns[0].ended_by)
    expect_no_connection(second)


@case("never-greets")
def case_never_greets(lab):
    """A server that accepts and stays silent: the greeting timeout
    (5 min scaled by 6/600 = 3 s) ends it; 75 well within 10 s."""
    lab.zone("silent.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10", {"greeting": "never"})
    lab.start()
    msg, _ = message("silent")
    run = lab.run_client(["user@silent.example"], msg, ["--timeout", "6"])
    print("never-greets: client took %.2f s" % run.elapsed)
    expect_exit(run, EX_TEMPFAIL)
    expect_result(run, "user@silent.example", "tempfail", EX_TEMPFAIL)
    expect(run.elapsed < 10, "took %.1f s, expected under 10" % run.elapsed)
    expect(run.elapsed > 2.5, "gave up after %.1f s, before the 3 s greeting "
           "timeout" % run.elapsed)
    conns = server.connections(settle=1)
    expect(len(conns) == 1, "server got %d connections, expected 1"
           % len(conns))
    expect(not conns[0].received, "client sent %r before any greeting"
           % conns[0].received)


@case("slow-greeting")
def case_slow_greeting(lab):
    """A greeting 2 s late is still within the scaled greeting timeout
    (--timeout 10: 5 s): the client waits and delivers."""
    lab.zone("slow.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10", {"delay": {"greeting": 2}})
    lab.start()
    msg, marker = message("slow")
    run = lab.run_client(["user@slow.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    expect_result(run, "user@slow.example", "delivered", EX_OK)
    expect(run.elapsed >= 2, "done in %.1f s, before the greeting came"
           % run.elapsed)
    conns = server.connections()
    expect(len(conns) == 1 and len(conns[0].bodies) == 1
           and marker.decode() in conns[0].bodies[0],
           "expected one connection carrying the message")


@case("size-limit")
def case_size_limit(lab):
    """SIZE (RFC 1870): MAIL carries the message's exact size; a server
    whose advertised limit is smaller gets no MAIL at all, and the
    recipient fails permanently (69), not temporarily."""
    lab.zone("small.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    lab.zone("large.example", records=["@ MX 10 mx", "mx A 192.0.2.20"])
    small = lab.smtp_server("192.0.2.10", {"ehlo": "250-{name}\n250 SIZE 100"})
    large = lab.smtp_server("192.0.2.20")
    lab.start()
    msg, marker = message("size")
    wire_size = len(msg.replace(b"\n", b"\r\n"))
    run = lab.run_client(["u@small.example", "u@large.example"], msg,
                         TIMEOUT_ARGS)
    expect_exit(run, EX_UNAVAILABLE)
    rec = expect_result(run, "u@small.example", "permfail", EX_UNAVAILABLE)
    expect("size limit" in rec.get("detail", ""), "detail %r"
           % rec.get("detail"))
    expect(not any(c.commands("MAIL") for c in small.connections()),
           "MAIL was sent to a server whose SIZE limit is too small")
    expect_result(run, "u@large.example", "delivered", EX_OK)
    mails = [m for c in large.connections() for m in c.commands("MAIL")]
    expect(len(mails) == 1 and mails[0].endswith(" SIZE=%d" % wire_size),
           "MAIL lines %r, expected one ending SIZE=%d" % (mails, wire_size))
    bodies = [b for c in large.connections() for b in c.bodies]
    expect(len(bodies) == 1 and marker.decode() in bodies[0],
           "large.example got %d messages" % len(bodies))


@case("smtputf8")
def case_smtputf8(lab):
    """A UTF-8 local part needs SMTPUTF8 (RFC 6531): asked for in MAIL
    where offered; where not offered nothing is sent and the recipient
    fails permanently (as Postfix does)."""
    lab.zone("utf8no.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    lab.zone("utf8yes.example", records=["@ MX 10 mx", "mx A 192.0.2.20"])
    plain = lab.smtp_server("192.0.2.10")
    utf8 = lab.smtp_server("192.0.2.20", {
        "ehlo": "250-{name}\n250-8BITMIME\n250 SMTPUTF8"})
    lab.start()
    msg, marker = message("utf8")
    no, yes = "j\u00f6rg@utf8no.example", "j\u00f6rg@utf8yes.example"
    run = lab.run_client([no, yes], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_UNAVAILABLE)
    rec = expect_result(run, no, "permfail", EX_UNAVAILABLE)
    expect("SMTPUTF8" in rec.get("detail", ""), "detail %r"
           % rec.get("detail"))
    expect(not any(c.commands("MAIL") for c in plain.connections()),
           "MAIL was sent to a server without SMTPUTF8")
    expect_result(run, yes, "delivered", EX_OK)
    conns = utf8.connections()
    mails = [m for c in conns for m in c.commands("MAIL")]
    rcpts = [r for c in conns for r in c.commands("RCPT")]
    expect(len(mails) == 1 and mails[0].endswith(" SMTPUTF8"),
           "MAIL lines %r, expected SMTPUTF8" % mails)
    expect(rcpts == ["RCPT TO:<%s>" % yes], "RCPT lines %r" % rcpts)
    expect(any(marker.decode() in b for c in conns for b in c.bodies),
           "utf8yes.example did not get the message")


@case("sigint-cancels")
def case_sigint_cancels(lab):
    """SIGINT while deliveries wait for a silent server: every recipient is
    still reported (tempfail, "cancelled"), the exit status is 75, and the
    client exits promptly instead of waiting out its timeouts."""
    lab.zone("sigint.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10", {"greeting": "never"})
    lab.start()
    msg, _ = message("sigint")
    rcpts = ["a@sigint.example", "b@sigint.example", "c@sigint.example"]
    argv = [os.environ["MXCLIENT"], "--json", "--resolver", labdns.RESOLVER_ADDR,
            "--trust-anchor", lab.trust_anchor, "-j", "2",
            "-f", "s@sender.example"] + rcpts
    with open(lab.message_file(msg), "rb") as stdin:
        p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        # Wait until the client is connected and waiting for a greeting.
        deadline = time.monotonic() + 10
        while not server.read_transcript() and time.monotonic() < deadline:
            time.sleep(0.05)
        expect(server.read_transcript(),
               "the client never reached the silent server")
        started = time.monotonic()
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            raise CaseFailure("the client ignored SIGINT for 10 s")
        took = time.monotonic() - started
    print("sigint-cancels: exited %.2f s after SIGINT" % took)
    expect(p.returncode == EX_TEMPFAIL, "exit %r, expected 75; stderr %s"
           % (p.returncode, err.decode(errors="replace")[-800:]))
    records = [json.loads(l) for l in out.decode().splitlines() if l.strip()]
    got = sorted(r.get("recipient") for r in records)
    expect(got == sorted(rcpts), "reported %r, expected each of %r once"
           % (got, rcpts))
    for r in records:
        expect(r.get("status") == "tempfail" and r.get("detail") == "cancelled",
               "%s: %s / %s" % (r.get("recipient"), r.get("status"),
                                r.get("detail")))
    expect(took < 3, "took %.1f s after SIGINT" % took)


@case("happy-eyeballs")
def case_happy_eyeballs(lab):
    """The MX's IPv6 address swallows SYNs; its IPv4 address works: the
    client must get through over IPv4 quickly (RFC 8305), not after a
    connect timeout."""
    lab.zone("he.example", records=[
        "@ MX 10 mx", "mx AAAA 2001:db8::dead", "mx A 192.0.2.10"])
    lab.blackhole("2001:db8::dead")
    pf = lab.postfix("mx.he.example", ["192.0.2.10"], ["he.example"])
    lab.start()
    expect_blackholed("2001:db8::dead")
    expect_empty(pf)
    msg, marker = message("he")
    run = lab.run_client(["user@he.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    rec = expect_result(run, "user@he.example", "delivered", EX_OK)
    print("happy-eyeballs: elapsed_ms = %r (client ran %.2f s)"
          % (rec.get("elapsed_ms"), run.elapsed))
    expect(rec.get("address") == "192.0.2.10", "address %r" % rec.get("address"))
    expect(isinstance(rec.get("elapsed_ms"), int) and rec["elapsed_ms"] < 1000,
           "elapsed_ms %r, expected under 1000" % rec.get("elapsed_ms"))
    expect_copies(pf, "user@he.example", 1, marker)


# --- message content -------------------------------------------------------

@case("fidelity")
def case_fidelity(lab):
    """Dots, bare LF and CRLF, a 998-octet line and UTF-8 arrive intact:
    the maildir copy equals the input with every line ending as LF.  A
    10,000-octet line arrives folded as Postfix folds it (CRLF SP after
    every 998 octets, RFC 5321 4.5.3.1.6), and the command warns."""
    lab.zone("fidelity.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    pf = lab.postfix("mx.fidelity.example", ["192.0.2.10"],
                     ["fidelity.example"])
    lab.start()
    expect_empty(pf)
    body = (b".starts with a dot\r\n"
            b".\n"
            b"..\r\n"
            b"...three dots\n"
            b". dot space\r\n"
            b"\r\n"
            b"\n"
            b"trailing spaces   \n"
            + b"w" * 998 + b"\n"
            + b"x" * 10000 + b"\r\n"
            + "UTF-8: Grüße, 日本語, ελληνικά 🎉\r\n".encode("utf-8")
            + b"\tindented\n"
            b"From the start of a line\n"
            b"last line\r\n")
    msg, marker = message(
        "fidelity", body,
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: 8bit\r\n")
    run = lab.run_client(["user@fidelity.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    expect_result(run, "user@fidelity.example", "delivered", EX_OK)
    expect("folded 10 time(s)" in run.stderr,
           "no warning about the folded line: %r" % run.stderr[-300:])
    copy = expect_copies(pf, "user@fidelity.example", 1, marker)[0]
    long_line = b"x" * 10000
    folded = b"\n ".join([long_line[:998]] +
                         [long_line[i:i + 997]
                          for i in range(998, len(long_line), 997)])
    want = msg.replace(b"\r\n", b"\n").replace(long_line, folded)
    got = copy.without_trace()
    if got != want:
        at = next((i for i in range(min(len(got), len(want)))
                   if got[i] != want[i]), min(len(got), len(want)))
        expect(False, "delivered copy differs from the input at byte %d "
               "(lengths %d vs %d): got %r, want %r"
               % (at, len(got), len(want), got[max(0, at - 40):at + 40],
                  want[max(0, at - 40):at + 40]))


@case("no-final-newline")
def case_no_final_newline(lab):
    """A message whose last line has no line ending still ends with one on
    the wire (the final dot must be on a line of its own)."""
    lab.zone("eol.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10")
    lab.start()
    msg, marker = message("eol", b"no newline at the end")
    run = lab.run_client(["user@eol.example"], msg, TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    expect_result(run, "user@eol.example", "delivered", EX_OK)
    bodies = [b for c in server.connections() for b in c.bodies]
    expect(len(bodies) == 1, "%d messages arrived, expected 1" % len(bodies))
    want = msg.decode().replace("\n", "\r\n") + "\r\n"
    expect(unstuff(bodies[0]) == want, "body on the wire %r, expected %r"
           % (bodies[0][-60:], want[-60:]))


@case("null-sender")
def case_null_sender(lab):
    """-f '' sends MAIL FROM:<> (the bounce sender) and delivers."""
    lab.zone("nullsender.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10")
    lab.start()
    msg, marker = message("nullsender")
    run = lab.run_client(["user@nullsender.example"], msg, TIMEOUT_ARGS,
                         sender="")
    expect_exit(run, EX_OK)
    expect_result(run, "user@nullsender.example", "delivered", EX_OK)
    conns = server.connections()
    expect(len(conns) == 1, "expected one connection, got %d" % len(conns))
    mail = conns[0].commands("MAIL")
    expect(len(mail) == 1 and re.match(r"(?i)^MAIL FROM:<>( |$)", mail[0]),
           "MAIL command was %r, expected MAIL FROM:<>" % mail)
    expect(len(conns[0].bodies) == 1 and marker.decode() in conns[0].bodies[0],
           "message not received")


# --- many recipients -------------------------------------------------------

@case("many")
def case_many(lab):
    """200 recipients in 40 domains (half signed, half not) on two Postfix
    hosts, -j 50: every one delivered, each copy exactly once."""
    lab.zone("hosts.example", records=[
        "mx1 A 192.0.2.10", "mx2 A 192.0.2.20"])
    domains = ["d%02d.example" % i for i in range(40)]
    for i, d in enumerate(domains):
        host = "mx1" if i < 20 else "mx2"
        lab.zone(d, signed=(i % 2 == 0),
                 records=["@ MX 10 %s.hosts.example." % host])
    pf1 = lab.postfix("mx1.hosts.example", ["192.0.2.10"], domains[:20])
    pf2 = lab.postfix("mx2.hosts.example", ["192.0.2.20"], domains[20:])
    lab.start()
    expect_empty(pf1)
    expect_empty(pf2)
    rcpts = ["u%03d@%s" % (i, domains[i % 40]) for i in range(200)]
    msg, marker = message("many")
    run = lab.run_client(rcpts, msg, ["-j", "50"] + TIMEOUT_ARGS, timeout=100)
    print("many: client took %.2f s" % run.elapsed)
    expect_exit(run, EX_OK)
    expect(len(run.records) == 200, "%d JSON lines, expected 200"
           % len(run.records))
    for r in rcpts:
        expect_result(run, r, "delivered", EX_OK)
    # 50 slots for 200 deliveries: the first 50 start at once, the rest
    # wait for a slot, and the wait is a part of the elapsed time.
    waits = sorted(rec.get("queue_ms", -1) for rec in run.records)
    expect(waits[0] == 0, "no delivery started at once: %r" % waits[:5])
    expect(waits[-1] > 0, "no delivery waited for a slot: %r" % waits[-5:])
    expect(all(0 <= rec.get("queue_ms", -1) <= rec.get("elapsed_ms", -1)
               for rec in run.records), "queue_ms outside [0, elapsed_ms]")
    expect(pf1.settle() and pf2.settle(), "mail still in flight")
    # Read each maildir once: who got which copy, and how often.
    copies = {}
    for pf in (pf1, pf2):
        for m in pf.messages():
            expect(marker in m.raw, "a copy in %s lacks the marker"
                   % pf.hostname)
            for to in m.delivered_to:
                copies.setdefault(to.lower(), []).append(pf.hostname)
    for i, r in enumerate(rcpts):
        right = pf1 if i % 40 < 20 else pf2
        expect(copies.get(r) == [right.hostname],
               "%s: copies at %s, expected one at %s"
               % (r, copies.get(r), right.hostname))
    total = len(pf1.messages()) + len(pf2.messages())
    expect(total == 200, "%d messages in the maildirs, expected 200" % total)


@case("rcpt-file")
def case_rcpt_file(lab):
    """--rcpt-file adds recipients (one a line, # comments) to the
    command line's."""
    lab.zone("list.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    pf = lab.postfix("mx.list.example", ["192.0.2.10"], ["list.example"])
    lab.start()
    path = os.path.join(lab.workdir, "rcpts.txt")
    with open(path, "w") as f:
        f.write("# lab recipients\nb@list.example\n\nc@list.example\n")
    msg, marker = message("rcptfile")
    run = lab.run_client(["a@list.example"], msg,
                         ["--rcpt-file", path] + TIMEOUT_ARGS)
    expect_exit(run, EX_OK)
    expect(len(run.records) == 3, "%d JSON lines, expected 3"
           % len(run.records))
    for r in ("a@list.example", "b@list.example", "c@list.example"):
        expect_result(run, r, "delivered", EX_OK)
        expect_copies(pf, r, 1, marker)
    expect(len(pf.messages()) == 3, "expected exactly 3 messages")


@case("exit-mixed")
def case_exit_mixed(lab):
    """One delivered, one permanent, one temporary failure: the exit
    status is 75 (any temporary failure wins) and the good copy arrives."""
    lab.zone("good.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    lab.servfail_name("lame.example")
    pf = lab.postfix("mx.good.example", ["192.0.2.10"], ["good.example"])
    lab.start()
    msg, marker = message("mixed")
    rcpts = ["ok@good.example", "x@no-such-domain.example", "y@lame.example"]
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS)
    expect_exit(run, EX_TEMPFAIL)
    expect_result(run, rcpts[0], "delivered", EX_OK)
    expect_result(run, rcpts[1], "permfail", EX_NOHOST)
    expect_result(run, rcpts[2], "tempfail", EX_TEMPFAIL)
    expect_copies(pf, rcpts[0], 1, marker)


@case("exit-first-permanent")
def case_exit_first_permanent(lab):
    """Only permanent failures: the exit status is the first one's code
    (unknown user 67 before no-such-domain 68)."""
    lab.zone("users.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10", {"rcpt": "550 5.1.1 no such user"})
    lab.start()
    msg, _ = message("firstperm")
    rcpts = ["nobody@users.example", "x@no-such-domain.example"]
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS)
    expect_exit(run, EX_NOUSER)
    expect_result(run, rcpts[0], "permfail", EX_NOUSER)
    expect_result(run, rcpts[1], "permfail", EX_NOHOST)
    bodies = [b for c in server.connections() for b in c.bodies]
    expect(not bodies, "a message was sent to a refused recipient")


@case("plain-output")
def case_plain_output(lab):
    """Without --json: progress on stdout, every line naming its recipient."""
    lab.zone("plain.example", signed=False,
             records=["@ MX 10 mx", "mx A 192.0.2.10"])
    pf = lab.postfix("mx.plain.example", ["192.0.2.10"], ["plain.example"])
    lab.start()
    msg, marker = message("plain")
    rcpts = ["a@plain.example", "b@plain.example"]
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS, json_output=False)
    expect_exit(run, EX_OK)
    lines = [l for l in run.stdout.splitlines() if l.strip()]
    expect(lines, "no progress lines on stdout")
    for line in lines:
        expect(any(line.startswith(r) for r in rcpts),
               "stdout line without its recipient: %r" % line)
    for r in rcpts:
        expect(any(l.startswith(r) for l in lines), "no line for %s" % r)
        expect_copies(pf, r, 1, marker)


# --- the DNS answer cache, retries and failover -----------------------------

def dns_stats(run):
    """The client's DNS counters from its last stderr line
    ("dns: N queries sent, N from cache, N coalesced, N retried, N timed
    out") as a dict."""
    found = re.findall(r"^dns: (\d+) queries sent, (\d+) from cache, "
                       r"(\d+) coalesced, (\d+) retried, (\d+) timed out$",
                       run.stderr, re.M)
    expect(len(found) == 1, "expected one DNS counter line on stderr, got "
           "%d" % len(found))
    keys = ("sent", "cached", "coalesced", "retried", "timed_out")
    return dict(zip(keys, (int(v) for v in found[0])))


def expect_all_delivered_once(run, pfs, rcpts, marker):
    """Every recipient delivered (exit 0, its JSON line) and exactly one
    copy of each in the maildirs, nothing else."""
    failed = [r for r in run.records if r.get("status") != "delivered"]
    expect(not failed, "%d not delivered, e.g. %s" % (
        len(failed), [(r.get("recipient"), r.get("detail"))
                      for r in failed[:5]]))
    expect_exit(run, EX_OK)
    for r in rcpts:
        expect_result(run, r, "delivered", EX_OK)
    expect(all(pf.settle() for pf in pfs), "mail still in flight")
    copies = {}
    for pf in pfs:
        for m in pf.messages():
            expect(marker in m.raw, "a copy in %s lacks the marker"
                   % pf.hostname)
            for to in m.delivered_to:
                copies[to.lower()] = copies.get(to.lower(), 0) + 1
    for r in rcpts:
        expect(copies.get(r.lower()) == 1, "%s: %s copies, expected 1"
               % (r, copies.get(r.lower())))
    expect(sum(copies.values()) == len(rcpts), "%d copies for %d recipients"
           % (sum(copies.values()), len(rcpts)))


@case("dns-coalescing")
def case_dns_coalescing(lab):
    """300 recipients at one signed domain: the MX, A, AAAA and TLSA
    lookups of all 300 deliveries go upstream once each (the rest are
    coalesced or answered from the cache), as the counters and unbound's
    query log both say."""
    lab.zone("coal.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    pf = lab.postfix("mx.coal.example", ["192.0.2.10"], ["coal.example"])
    lab.start()
    rcpts = ["u%03d@coal.example" % i for i in range(300)]
    msg, marker = message("coalescing")
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS, timeout=110)
    print("dns-coalescing: client took %.2f s" % run.elapsed)
    expect_all_delivered_once(run, [pf], rcpts, marker)
    st = dns_stats(run)
    print("dns-coalescing: counters %s" % st)
    asked = lab.resolver_queries()
    mx = asked.count(("coal.example.", "MX"))
    expect(mx == 1, "MX coal.example asked %d times upstream, expected 1"
           % mx)
    # Per delivery: MX, A, AAAA and TLSA of mx.coal.example.
    expect(st["sent"] - st["retried"] == 4, "%d first attempts sent, "
           "expected 4 (MX, A, AAAA, TLSA)" % (st["sent"] - st["retried"]))
    expect(st["sent"] - st["retried"] + st["cached"] + st["coalesced"] ==
           4 * 300, "lookups do not add up to 4 per delivery: %s" % st)
    expect(st["coalesced"] > 0 and st["cached"] > 0,
           "expected both coalesced and cached lookups: %s" % st)


@case("dns-udp-loss")
def case_dns_udp_loss(lab):
    """A tenth of the UDP datagrams to and from the resolver are dropped
    (nftables numgen): a 500-recipient batch over 50 domains, half signed,
    is still delivered exactly once, no deferral; the counters show the
    timeouts and retries that made up for the loss."""
    lab.zone("hosts.example", records=[
        "mx1 A 192.0.2.10", "mx2 A 192.0.2.20"])
    domains = ["loss%02d.example" % i for i in range(50)]
    for i, d in enumerate(domains):
        lab.zone(d, signed=(i % 2 == 0), records=[
            "@ MX 10 %s.hosts.example." % ("mx1" if i < 25 else "mx2")])
    pf1 = lab.postfix("mx1.hosts.example", ["192.0.2.10"], domains[:25])
    pf2 = lab.postfix("mx2.hosts.example", ["192.0.2.20"], domains[25:])
    lab.start()
    labnet.drop_udp_random(labdns.RESOLVER_ADDR, 10)
    rcpts = ["u%03d@%s" % (i, domains[i % 50]) for i in range(500)]
    msg, marker = message("udploss")
    # Generous SMTP timeouts (the DNS lookup budget stays 10 s): on a
    # loaded machine 500 deliveries can make Postfix greet late, which is
    # not what this case is about.
    run = lab.run_client(rcpts, msg, ["--timeout", "60", "-j", "50"],
                         timeout=110)
    dropped = labnet.dropped()
    print("dns-udp-loss: client took %.2f s, %d datagrams dropped"
          % (run.elapsed, dropped))
    st = dns_stats(run)
    print("dns-udp-loss: counters %s" % st)
    expect_all_delivered_once(run, [pf1, pf2], rcpts, marker)
    expect(dropped > 0, "the loss rule dropped nothing: the case tested "
           "nothing")


@case("dns-silent-first")
def case_dns_silent_first(lab):
    """A first --resolver that never answers (every packet to it dropped)
    and the lab resolver second: delivered within a few seconds, about
    one attempt's deadline lost, not the lookup's timeout."""
    silent = "198.51.100.60"
    lab.address(silent)
    lab.zone("silent.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    pf = lab.postfix("mx.silent.example", ["192.0.2.10"],
                     ["silent.example"])
    lab.start()
    labnet.silence([silent])
    msg, marker = message("silentfirst")
    rcpts = ["a@silent.example", "b@silent.example"]
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS,
                         resolvers=(silent, labdns.RESOLVER_ADDR))
    print("dns-silent-first: client took %.2f s" % run.elapsed)
    expect_all_delivered_once(run, [pf], rcpts, marker)
    st = dns_stats(run)
    print("dns-silent-first: counters %s" % st)
    expect(st["timed_out"] >= 1, "no attempt timed out: was the first "
           "resolver asked at all? %s" % st)
    expect(run.elapsed < 5, "took %.2f s with a silent first resolver"
           % run.elapsed)


@case("dns-silent-only")
def case_dns_silent_only(lab):
    """The only resolver never answers: the delivery is deferred (75)
    within the lookup timeout, and the report names the resolver."""
    silent = "198.51.100.60"
    lab.address(silent)
    lab.zone("alone.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    lab.start()
    labnet.silence([silent])
    msg, _ = message("silentonly")
    run = lab.run_client(["a@alone.example"], msg, ["--timeout", "4"],
                         resolvers=(silent,), timeout=30)
    expect_exit(run, EX_TEMPFAIL)
    rec = expect_result(run, "a@alone.example", "tempfail", EX_TEMPFAIL)
    expect("no answer from %s" % silent in rec.get("detail", ""),
           "the report does not name the silent resolver: %r"
           % rec.get("detail"))
    expect(run.elapsed < 8, "took %.2f s for a 4 s lookup timeout"
           % run.elapsed)


@case("dns-refused-first")
def case_dns_refused_first(lab):
    """A first --resolver that answers REFUSED (the lab's empty nsd) and
    the lab resolver second: delivered with no timeout at all."""
    lab.zone("refusing.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    lab.servfail_name("lame.refusing.example")   # starts the empty nsd
    pf = lab.postfix("mx.refusing.example", ["192.0.2.10"],
                     ["refusing.example"])
    lab.start()
    expect(labdns.probe(labdns.LAME_ADDR, "refusing.example.", "MX",
                        timeout=1)[0] == "REFUSED",
           "lab: the first resolver does not refuse")
    msg, marker = message("refusedfirst")
    rcpts = ["a@refusing.example"]
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS,
                         resolvers=(labdns.LAME_ADDR, labdns.RESOLVER_ADDR))
    print("dns-refused-first: client took %.2f s" % run.elapsed)
    expect_all_delivered_once(run, [pf], rcpts, marker)
    st = dns_stats(run)
    print("dns-refused-first: counters %s" % st)
    expect(st["timed_out"] == 0 and st["retried"] >= 1,
           "expected retries after REFUSED and no timeout: %s" % st)
    expect(run.elapsed < 4, "took %.2f s with a refusing first resolver"
           % run.elapsed)


@case("dns-ttl")
def case_dns_ttl(lab):
    """One engine, three waves (test/tools/waves.c).  The MX host's A
    record (TTL 8 s, unsigned zone) moves from 192.0.2.10 to 192.0.2.20
    after wave 1: wave 2, within the TTL, still goes to .10 from the
    cache; wave 3, after the TTL, goes to .20.  A name that did not exist
    (negative TTL 6 s from the SOA) is added meanwhile and is seen the
    same way: still NXDOMAIN within its TTL, delivered after."""
    lab.zone("ttl.example", signed=False, records=[
        "@ MX 10 mx", "mx 8 A 192.0.2.10"])
    neg = lab.zone("neg.example", signed=False, records=[
        "@ MX 10 mx.ttl.example."])
    neg.negative_ttl = 6
    lab.postfix("mx.ttl.example", ["192.0.2.10"],
                ["ttl.example", "sub.neg.example"])
    lab.postfix("mx2.ttl.example", ["192.0.2.20"],
                ["ttl.example", "sub.neg.example"])
    lab.start()
    proc = subprocess.Popen(
        [os.environ["MXC_WAVES"], "--resolver", labdns.RESOLVER_ADDR,
         "--trust-anchor", lab.trust_anchor, "waves@sender.example",
         "w1@ttl.example,n1@sub.neg.example",
         "w2@ttl.example,n2@sub.neg.example",
         "w3@ttl.example,n3@sub.neg.example"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    out = []
    try:
        def wave(n):
            """Reads the program's lines up to "wave N done"."""
            while True:
                line = proc.stdout.readline()
                if line == "":
                    raise CaseFailure("waves ended early:\n%s%s"
                                      % ("".join(out), proc.stderr.read()))
                out.append(line)
                if line.strip() == "wave %d done" % n:
                    return
        started = time.monotonic()
        wave(1)
        t1 = time.monotonic()
        # The MX host moves; sub.neg.example comes into being.
        lab.rewrite_zone("ttl.example", ["@ MX 10 mx", "mx 8 A 192.0.2.20"])
        lab.rewrite_zone("neg.example", ["@ MX 10 mx.ttl.example.",
                                         "sub MX 10 mx.ttl.example."])
        proc.stdin.write("go\n")
        proc.stdin.flush()
        wave(2)
        # Both answers were fetched during wave 1, after `started`.
        expect(time.monotonic() - started < 5.5, "wave 2 ended %.2f s "
               "after the start, too late to test the 6 s negative TTL"
               % (time.monotonic() - started))
        time.sleep(max(0, t1 + 9 - time.monotonic()))
        proc.stdin.write("go\n")
        proc.stdin.flush()
        wave(3)
        rest, err = proc.communicate(timeout=30)
        out.append(rest)
        print("dns-ttl: %.2f s\n%s%s" % (time.monotonic() - started,
                                         "".join(out), err))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(out)
    expect(proc.returncode == 0, "waves exit %r" % proc.returncode)
    expect("w1@ttl.example delivered 192.0.2.10" in text, "wave 1 not to .10")
    expect("w2@ttl.example delivered 192.0.2.10" in text,
           "wave 2 (within the TTL) did not use the cached address")
    expect("w3@ttl.example delivered 192.0.2.20" in text,
           "wave 3 (after the TTL) did not see the new address")
    expect("n1@sub.neg.example failed" in text, "n1: the name existed")
    expect("n2@sub.neg.example failed -\n  detail: domain sub.neg.example "
           "does not exist" in text,
           "n2: NXDOMAIN not kept for its negative TTL")
    expect("n3@sub.neg.example delivered" in text,
           "n3: the new name was not seen after the negative TTL")
    # unbound caches for the same TTLs: only its query log tells that the
    # engine, not unbound, kept the answers through wave 2.
    asked = lab.resolver_queries()
    for name, rrtype in (("mx.ttl.example.", "A"),
                         ("sub.neg.example.", "MX")):
        n = asked.count((name, rrtype))
        expect(n == 2, "%s %s asked %d times upstream, expected 2 (waves 1 "
               "and 3)" % (name, rrtype, n))


@case("dns-rrsig-expiry")
def case_dns_rrsig_expiry(lab):
    """One engine, three waves (test/tools/waves.c), to a signed zone whose
    records have a TTL of an hour but whose signatures expire SIG_LIFE
    seconds after signing (RFC 4035 5.3.3: the answer may not be used past
    the expiration).  unbound does not validate this zone, so it hands the
    client the full TTLs with the RRSIGs unchanged (a validating unbound
    would lower the TTLs itself).  Wave 2, before the expiration, is served
    from the engine's cache; wave 3, after it, must ask again, and then
    finds the signatures expired (bogus): not delivered.  Without the
    bound, wave 3 would be delivered from the cache, an answer whose
    signatures no longer validate."""
    SIG_LIFE = 30
    zone = lab.zone("sig.example", records=["@ 3600 MX 10 mx",
                                            "mx 3600 A 192.0.2.10"])
    zone.sig_lifetime = SIG_LIFE
    zone.resolver_insecure = True
    lab.postfix("mx.sig.example", ["192.0.2.10"], ["sig.example"])
    lab.start()
    expires = int(zone.signed_at) + SIG_LIFE    # wall clock, as in RRSIGs
    proc = subprocess.Popen(
        [os.environ["MXC_WAVES"], "--resolver", labdns.RESOLVER_ADDR,
         "--trust-anchor", lab.trust_anchor, "waves@sender.example",
         "w1@sig.example", "w2@sig.example", "w3@sig.example"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    out = []
    mx_query = ("sig.example.", "MX")
    try:
        def wave(n):
            """Reads the program's lines up to "wave N done"."""
            while True:
                line = proc.stdout.readline()
                if line == "":
                    raise CaseFailure("waves ended early:\n%s%s"
                                      % ("".join(out), proc.stderr.read()))
                out.append(line)
                if line.strip() == "wave %d done" % n:
                    return
        wave(1)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        wave(2)
        left = expires - time.time()
        expect(left > 1, "wave 2 ended %.1f s after the signatures "
               "expired: the lab was too slow for this case" % -left)
        asked_before = lab.resolver_queries().count(mx_query)
        time.sleep(max(0, expires + 1.5 - time.time()))
        proc.stdin.write("go\n")
        proc.stdin.flush()
        wave(3)
        rest, err = proc.communicate(timeout=30)
        out.append(rest)
        print("dns-rrsig-expiry: wave 2 ended %.1f s before the "
              "expiration\n%s%s" % (left, "".join(out), err))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(out)
    expect(proc.returncode == 0, "waves exit %r" % proc.returncode)
    expect("w1@sig.example delivered 192.0.2.10" in text, "wave 1 failed")
    expect("w2@sig.example delivered 192.0.2.10" in text, "wave 2 failed")
    expect(asked_before == 1, "sig.example MX asked %d times upstream by "
           "the end of wave 2, expected 1 (wave 2 from the cache)"
           % asked_before)
    expect("w3@sig.example failed" in text,
           "wave 3 (after the signatures expired) was delivered: the "
           "engine kept the answer past its RRSIG expiration")
    asked = lab.resolver_queries().count(mx_query)
    expect(asked >= 2, "sig.example MX asked %d times upstream, expected "
           "again in wave 3" % asked)


@case("dns-cname-links")
def case_dns_cname_links(lab):
    """The DNSSEC status of each CNAME link and of the records at the end
    (test/tools/dnsprobe through src/dns.c): getdns 1.6 gives one status
    per reply, the weakest, so each RRset is validated again on its own.
      mx.i1  (signed)   CNAME mx.u1 (unsigned) A  -> link secure, A insecure
      cn.u1  (unsigned) CNAME mx.t1 (signed)   A  -> link insecure, A secure
      two.s1 (signed)   CNAME mx.i1 (signed) CNAME mx.u1 A
                                                   -> secure, secure, insecure
      mx.s1  (signed)   CNAME mx.t1 (signed)   A  -> all secure
    The reply's own status stays the weakest: insecure but for mx.s1.
    With --cname-links off (the engine's default: no validation chain)
    every link carries the reply's status instead."""
    lab.zone("i1.example", records=["mx CNAME mx.u1.example."])
    lab.zone("u1.example", signed=False,
             records=["mx A 192.0.2.41", "cn CNAME mx.t1.example."])
    lab.zone("t1.example", records=["mx A 192.0.2.42"])
    lab.zone("s1.example", records=["mx CNAME mx.t1.example.",
                                    "two CNAME mx.i1.example."])
    lab.start()
    want = {
        "mx.i1.example": ("insecure", [("mx.i1.example", "secure")],
                          "insecure", "192.0.2.41"),
        "cn.u1.example": ("insecure", [("cn.u1.example", "insecure")],
                          "secure", "192.0.2.42"),
        "two.s1.example": ("insecure", [("two.s1.example", "secure"),
                                        ("mx.i1.example", "secure")],
                           "insecure", "192.0.2.41"),
        "mx.s1.example": ("secure", [("mx.s1.example", "secure")],
                          "secure", "192.0.2.42"),
    }
    for mode in ("on", "off"):
        got = dnsprobe_links(lab, mode, list(want))
        for name, (dnssec, links, records, addr) in want.items():
            if mode == "off":
                # Without the validation chain every link and the
                # records carry the reply's status.
                links = [(owner, dnssec) for owner, _ in links]
                records = dnssec
            g = got.get(name, {})
            expect(g.get("result") == "found" and g.get("addr") == addr,
                   "%s: %r, expected found %s" % (name, g, addr))
            expect(g.get("dnssec") == dnssec, "%s: reply status %r, "
                   "expected %s" % (name, g.get("dnssec"), dnssec))
            expect(g.get("links") == links, "cname links %s: %s: %r, "
                   "expected %r" % (mode, name, g.get("links"), links))
            expect(g.get("records") == records, "cname links %s: %s: "
                   "records %r, expected %s" % (mode, name,
                                                g.get("records"), records))


def dnsprobe_links(lab, mode, names):
    """dnsprobe's A answers for `names` with --cname-links `mode`, as
    {name: {result, dnssec, links: [(owner, status)], records, addr}}."""
    argv = [os.environ["MXC_DNSPROBE"], "--resolver", labdns.RESOLVER_ADDR,
            "--trust-anchor", lab.trust_anchor, "--cname-links", mode]
    for name in names:
        argv += ["a", name]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    print("dnsprobe --cname-links %s:\n%s%s" % (mode, p.stdout, p.stderr))
    expect(p.returncode == 0, "dnsprobe exit %d" % p.returncode)
    got, current = {}, None
    for line in p.stdout.splitlines():
        words = line.split()
        if not line.startswith(" ") and len(words) > 3:
            current = got.setdefault(words[0], {"links": []})
            current["dnssec"] = words[3].partition("=")[2]
            current["result"] = words[2].partition("=")[2]
        elif current is not None and words[:1] == ["cname"]:
            current["links"].append((words[1], words[2]))
        elif current is not None and words[:1] == ["records"]:
            current["records"] = words[1]
        elif current is not None and words[:1] == ["addr"]:
            current["addr"] = words[1]
    return got


# --- zone keys: validated DNSKEY sets kept as trust anchors -----------------

def run_waves(lab, waves, between):
    """Runs test/tools/waves.c with one wave per comma-separated list of
    recipients in `waves`; calls between(n) after wave n (before the
    next).  Returns (its whole output, the "stats" line after each wave
    as a dict of ints, the seconds each wave took)."""
    proc = subprocess.Popen(
        [os.environ["MXC_WAVES"], "--resolver", labdns.RESOLVER_ADDR,
         "--trust-anchor", lab.trust_anchor, "waves@sender.example"]
        + list(waves),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    out, stats, times = [], [], []
    try:
        for n in range(1, len(waves) + 1):
            started = time.monotonic()
            while True:
                line = proc.stdout.readline()
                if line == "":
                    raise CaseFailure("waves ended early:\n%s%s"
                                      % ("".join(out), proc.stderr.read()))
                out.append(line)
                if line.startswith("stats "):
                    stats.append({k: int(v) for k, v in
                                  (f.split("=") for f in line.split()[1:])})
                if line.strip() == "wave %d done" % n:
                    break
            times.append(time.monotonic() - started)
            if n < len(waves):
                between(n)
                proc.stdin.write("go\n")
                proc.stdin.flush()
        rest, err = proc.communicate(timeout=30)
        out.append(rest + err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    expect(proc.returncode == 0, "waves exit %r:\n%s"
           % (proc.returncode, "".join(out)))
    expect(len(stats) == len(waves), "%d stats lines for %d waves"
           % (len(stats), len(waves)))
    return "".join(out), stats, times


def zone_keys_world(lab, domain, corrupt_rrsig=None):
    """A signed zone for the zone-key cases: DOMAIN's MX is mx1, and the
    name sub.DOMAIN has its own MX, mx2, both at one Postfix (192.0.2.10)
    whose self-signed certificate the TLSA records (3 1 1) at
    _25._tcp.mx2 and, unless the TLSA signatures are to be damaged,
    _25._tcp.mx1 name.  Every record lives an hour, so nothing leaves
    the engine's cache by itself; a wave to DOMAIN never touches a name
    a wave to sub.DOMAIN needs.  Returns (zone, Postfix)."""
    leaf = lab.pki.self_signed("mx1." + domain,
                               sans=["mx1." + domain, "mx2." + domain])
    tlsa = labpki.tlsa(leaf, 3, 1, 1)
    records = ["@ 3600 MX 10 mx1", "mx1 3600 A 192.0.2.10",
               "sub 3600 MX 10 mx2", "mx2 3600 A 192.0.2.10",
               "_25._tcp.mx2 3600 TLSA " + tlsa]
    if corrupt_rrsig != "TLSA":
        records.append("_25._tcp.mx1 3600 TLSA " + tlsa)
    zone = lab.zone(domain, records=records, corrupt_rrsig=corrupt_rrsig)
    pf = lab.postfix("mx1." + domain, ["192.0.2.10"],
                     [domain, "sub." + domain],
                     credential=labpki.Credential(leaf))
    return zone, pf


@case("dnssec-zone-keys-rollover")
def case_dnssec_zone_keys_rollover(lab):
    """One engine, two waves (test/tools/waves.c).  Wave 1 delivers to
    a@zk.example with DANE; the engine keeps the DNSKEY sets its answers
    were validated with (zone_keys >= 1): example.'s as a getdns anchor,
    zk.example's for its own checks of the answers that follow
    (checked_here >= 1).  Then both zones are signed again with a new
    ZSK (same KSKs, so every DS still holds) and unbound restarted (it
    would otherwise validate the new signatures against its cached old
    DNSKEY RRsets).  Wave 2 goes to b@sub.zk.example, whose MX, mx2
    A/AAAA and TLSA answers are not in the engine's cache and are signed
    by zk.example's new ZSK only: the client's own check finds no held
    key for the MX and hands it back to getdns (handed_back grows);
    there the DS of zk.example, signed by example.'s new ZSK, is bogus
    against the old one installed as an anchor, so the engine must
    forget its zone keys, validate again from the root (revalidated >=
    1), take zk.example's new set (zone_keys grows) and deliver, DANE
    still verified."""
    domain = "zk.example"
    zone, pf = zone_keys_world(lab, domain)
    lab.start()
    expect_empty(pf)
    ksk_tag = labdns.key_tag(zone.ksk)
    tags = {}

    def rollover(n):
        """Between waves 1 and 2: the new ZSK, served and validated."""
        started = time.monotonic()
        tags["old"], tags["new"] = lab.resign_zone(domain)
        _, tags["tld"] = lab.resign_zone("example")
        for name, rrtype, want in (("sub." + domain, "MX", tags["new"]),
                                   ("_25._tcp.mx2." + domain, "TLSA",
                                    tags["new"]),
                                   (domain, "DNSKEY", ksk_tag),
                                   (domain, "DS", tags["tld"])):
            got = labdns.rrsig_key_tags(name, rrtype)
            expect(got == {want}, "lab: nsd signs %s %s with keys %r, "
                   "expected %d (old ZSK %d, KSK %d)" % (
                       name, rrtype, got, want, tags["old"], ksk_tag))
        lab.restart_unbound()
        expect_dns("sub." + domain, "MX", "NOERROR", ad=True)
        tags["seconds"] = time.monotonic() - started

    text, stats, times = run_waves(
        lab, ["a@" + domain, "b@sub." + domain], rollover)
    print("dnssec-zone-keys-rollover: wave 1 %.2f s, re-signing and "
          "unbound restart %.2f s, wave 2 %.2f s; ZSK %d -> %d (KSK %d)\n%s"
          % (times[0], tags["seconds"], times[1], tags["old"], tags["new"],
             ksk_tag, text))
    expect("a@%s delivered 192.0.2.10 dane=verified" % domain in text,
           "wave 1 not delivered with DANE")
    expect(stats[0]["zone_keys"] >= 1, "wave 1 learned no zone keys")
    expect(stats[0]["revalidated"] == 0, "wave 1 validated %d answers "
           "again, before any key changed" % stats[0]["revalidated"])
    # After the MX answer taught it zk.example's keys, the host's answers
    # are checked against them by the client itself (sigcheck).
    expect(stats[0]["checked_here"] >= 1, "wave 1: no answer was checked "
           "against the held zone keys by the client")
    expect("b@sub.%s delivered 192.0.2.10 dane=verified" % domain in text,
           "wave 2 (new ZSK) not delivered with DANE: the stale zone key "
           "was not given up")
    expect(stats[1]["revalidated"] >= 1, "wave 2 validated no answer "
           "again from the root: the stale ZSK was never used")
    expect(stats[1]["handed_back"] > stats[0]["handed_back"], "wave 2: no "
           "answer signed by the new ZSK was handed back to getdns")
    expect(stats[1]["zone_keys"] > stats[0]["zone_keys"], "wave 2: the "
           "new key sets were not taken in")
    expect(("sub.%s." % domain, "MX") in lab.resolver_queries(),
           "wave 2 never asked for sub.%s MX" % domain)
    expect_copies(pf, "a@" + domain, 1)
    expect_copies(pf, "b@sub." + domain, 1)


@case("dnssec-own-checks")
def case_dnssec_own_checks(lab):
    """The client's own RRSIG checks (src/sigcheck.c) on real answers:
    nsd serving zones signed by ldns-signzone, one with NSEC and one with
    NSEC3 denials, through unbound.  Each wave delivers to one domain with
    DANE: the MX answer comes through getdns, which teaches the engine
    the zone's keys; the MX host's A, its AAAA denial (NODATA, by NSEC
    or NSEC3) and its TLSA are then checked by the client itself
    (checked_here grows by 3) and none is handed back to getdns."""
    domains = ("own.example", "own3.example")
    leaf = lab.pki.self_signed("mx." + domains[0],
                               sans=["mx." + d for d in domains])
    for domain in domains:
        zone = lab.zone(domain, records=[
            "@ MX 10 mx", "mx A 192.0.2.10",
            "_25._tcp.mx TLSA " + labpki.tlsa(leaf, 3, 1, 1)])
        zone.nsec3 = domain == "own3.example"
    pf = lab.postfix("mx." + domains[0], ["192.0.2.10"], list(domains),
                     credential=labpki.Credential(leaf))
    lab.start()
    text, stats, _ = run_waves(lab, ["a@" + d for d in domains],
                               lambda n: None)
    print("dnssec-own-checks:\n%s" % text)
    before = {"checked_here": 0, "handed_back": 0}
    for n, (domain, st) in enumerate(zip(domains, stats)):
        expect("a@%s delivered 192.0.2.10 dane=verified" % domain in text,
               "a@%s not delivered with DANE" % domain)
        checked = st["checked_here"] - before["checked_here"]
        expect(checked == 3, "wave %d (%s, %s): %d answers checked by the "
               "client, expected 3 (A, AAAA denial, TLSA)"
               % (n + 1, domain, "NSEC3" if n else "NSEC", checked))
        expect(st["handed_back"] == 0, "wave %d: %d answers handed back "
               "to getdns" % (n + 1, st["handed_back"]))
        before = st


@case("dnssec-own-checks-nxdomain")
def case_dnssec_own_checks_nxdomain(lab):
    """An NXDOMAIN must not make its signer a zone whose answers the
    client checks itself.  co.example is a signed zone that only
    delegates (as co.uk does); wave 1 mails a@typo.co.example, which does
    not exist: co.example signs that NXDOMAIN, and its keys are learned.
    Wave 2 mails b@shop.co.example, a signed zone below it: its MX must
    go straight to getdns (validated from co.example's keys as an
    anchor), not be tried against co.example's keys and handed back."""
    leaf = lab.pki.self_signed("mx.shop.co.example")
    lab.zone("co.example", records=[])
    lab.zone("shop.co.example", records=[
        "@ MX 10 mx", "mx A 192.0.2.10",
        "_25._tcp.mx TLSA " + labpki.tlsa(leaf, 3, 1, 1)])
    pf = lab.postfix("mx.shop.co.example", ["192.0.2.10"],
                     ["shop.co.example"],
                     credential=labpki.Credential(leaf))
    lab.start()
    text, stats, _ = run_waves(lab, ["a@typo.co.example",
                                     "b@shop.co.example"], lambda n: None)
    print("dnssec-own-checks-nxdomain:\n%s" % text)
    expect(re.search(r"^a@typo\.co\.example failed", text, re.M),
           "a@typo.co.example (NXDOMAIN) did not fail")
    expect(stats[0]["zone_keys"] >= 1, "wave 1 learned no zone keys")
    expect("b@shop.co.example delivered 192.0.2.10 dane=verified" in text,
           "b@shop.co.example not delivered with DANE")
    expect(stats[1]["handed_back"] == 0, "wave 2: %d answers handed back: "
           "the NXDOMAIN's signer was taken for shop.co.example's zone"
           % stats[1]["handed_back"])
    expect(stats[1]["checked_here"] >= 2, "wave 2: the host's answers were "
           "not checked by the client")
    expect_copies(pf, "b@shop.co.example", 1)


@case("dnssec-zone-keys-bogus")
def case_dnssec_zone_keys_bogus(lab):
    """One engine, two waves (test/tools/waves.c), one signed zone whose
    TLSA signatures are damaged.  Wave 1 delivers to a@zkb.example (MX,
    mx1's address records and the secure denial of TLSA at mx1: all
    good), and the engine keeps the zone's keys.  Wave 2 goes to
    b@sub.zkb.example: its MX and mx2's addresses validate with the kept
    keys, its TLSA RRset (which names the server's real certificate) does
    not.  The bogus answer must fail the host as a temporary DNSSEC
    failure, never deliver (neither as DANE nor as "no DANE"), and the
    engine must have tried again from the root before calling it bogus
    (revalidated >= 1)."""
    domain = "zkb.example"
    tlsa_name = "_25._tcp.mx2." + domain
    _, pf = zone_keys_world(lab, domain, corrupt_rrsig="TLSA")
    lab.start()
    expect_empty(pf)
    expect_dns(tlsa_name, "TLSA", "SERVFAIL")
    expect_dns("sub." + domain, "MX", "NOERROR", ad=True)
    expect_dns("_25._tcp.mx1." + domain, "TLSA", "NXDOMAIN", ad=True)
    text, stats, times = run_waves(
        lab, ["a@" + domain, "b@sub." + domain], lambda n: None)
    print("dnssec-zone-keys-bogus: wave 1 %.2f s, wave 2 %.2f s\n%s"
          % (times[0], times[1], text))
    expect("a@%s delivered 192.0.2.10 dane=no" % domain in text,
           "wave 1 not delivered (without DANE)")
    expect(stats[0]["zone_keys"] >= 1, "wave 1 learned no zone keys")
    expect(stats[0]["revalidated"] == 0, "wave 1 validated %d answers "
           "again" % stats[0]["revalidated"])
    found = re.search(r"^b@sub\.%s (\S+) (\S+).*\n(?:  detail: (.*)\n"
                      r"  kind: (.*)\n)?" % re.escape(domain), text, re.M)
    expect(found is not None, "no result for b@sub.%s" % domain)
    outcome, _, detail, kind = found.groups()
    expect(outcome == "failed", "wave 2 (bogus TLSA) was delivered")
    expect(kind == "tempfail dnssec", "wave 2: %r, expected a temporary "
           "DNSSEC failure" % kind)
    expect("bogus" in detail and tlsa_name in detail,
           "wave 2's detail does not name the bogus TLSA: %r" % detail)
    expect(stats[1]["revalidated"] >= 1, "the bogus TLSA answer was not "
           "validated again from the root")
    expect(stats[1]["handed_back"] > stats[0]["handed_back"], "the bogus "
           "TLSA answer was not handed back to getdns by the client's own "
           "check")
    expect((tlsa_name + ".", "TLSA") in lab.resolver_queries(),
           "wave 2 never asked for %s TLSA" % tlsa_name)
    expect_copies(pf, "a@" + domain, 1)
    expect_copies(pf, "b@sub." + domain, 0)


# --- the example program ---------------------------------------------------

@case("example")
def case_example(lab):
    """The example daemon (library in its own event loop) delivers two."""
    lab.zone("daemon.example", records=["@ MX 10 mx", "mx A 192.0.2.10"])
    pf = lab.postfix("mx.daemon.example", ["192.0.2.10"], ["daemon.example"])
    lab.start()
    expect_empty(pf)
    msg, marker = message("example")
    rcpts = ["one@daemon.example", "two@daemon.example"]
    run = lab.run_example(rcpts, msg)
    expect_exit(run, EX_OK)
    for r in rcpts:
        expect_copies(pf, r, 1, marker)
    expect(len(pf.messages()) == 2, "expected exactly 2 messages")


if __name__ == "__main__":
    sys.exit(labrun.main(CASES, sys.argv[1:]))
