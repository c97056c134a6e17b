#!/usr/bin/env python3
"""PIPELINING (RFC 2920) and BDAT (RFC 3030) lab cases.

Run one case:  pipe_case.py CASE      (meson registers each as pipe-CASE)
List them:     pipe_case.py --list

Against Postfix (which offers both) the message goes as BDAT LAST, or with
--no-bdat as DATA piped after MAIL and RCPT, as Postfix's own per-command
counts in its "disconnect from" log lines show.  Against the scripted
server, which groups its replies when it offers PIPELINING, every write of
replies is counted, and without PIPELINING the client must never send a
command before the reply to the one before.  The client's round trips come
from its "smtp:" stats line.
"""

import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
sys.path.insert(0, HERE)

import labrun      # noqa: E402
from lab import (expect, expect_exit, expect_result,   # noqa: E402
                 EX_OK, EX_NOUSER)
from lab_case import TIMEOUT_ARGS, message   # noqa: E402
from reuse_case import dane_postfix, stats_line   # noqa: E402

CASES, case = labrun.registry()



def turns(run):
    """The client's round trips: (setup, transactions, count of
    transactions, connections), from its "smtp:" stats line."""
    line = stats_line(run, "smtp")
    m = re.search(r"(\d+) connections, \d+ deliveries on a reused "
                  r"connection, \d+ TLS resumptions, (\d+) round trips "
                  r"setting up, (\d+) in "
                  r"(\d+) transactions", line)
    expect(m is not None, "no round trips in %r" % line)
    conns, setup, txn, count = (int(g) for g in m.groups())
    return setup, txn, count, conns


def postfix_commands(pf, settle=5.0):
    """Postfix smtpd's command counts summed over the connections that
    carried mail ("disconnect from ... mail=1 rcpt=1 bdat=1 ..."), once
    its log stops growing."""
    deadline = time.monotonic() + settle
    last = None
    while True:
        with open(pf.maillog, encoding="utf-8", errors="replace") as f:
            lines = [l for l in f if re.search(r"smtpd\[\d+\]: disconnect "
                                               r"from .* mail=", l)]
        if lines == last or time.monotonic() > deadline:
            break
        last = lines
        time.sleep(0.3)
    counts = {}
    for l in lines:
        for verb, n in re.findall(r" ([a-z]+)=(\d+)", l):
            counts[verb] = counts.get(verb, 0) + int(n)
    return counts


def postfix_run(lab, domain, args):
    """Ten recipients at a DANE-verified Postfix, one at a time (so all but
    the first reuse the connection); every one arrives once.  Returns the
    client run and Postfix's command counts."""
    pf = dane_postfix(lab, domain, "192.0.2.10")
    lab.start()
    rcpts = ["u%d@%s" % (i, domain) for i in range(10)]
    msg, marker = message("pipe")
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS + ["-j", "1"] + args)
    print(stats_line(run, "smtp"))
    expect_exit(run, EX_OK)
    for r in rcpts:
        rec = expect_result(run, r, "delivered", EX_OK)
        expect(rec.get("dane") == "verified", "%s: dane %r"
               % (r, rec.get("dane")))
    expect(pf.settle(), "mail still in flight")
    got = {}
    for m in pf.messages():
        expect(marker in m.raw, "a copy lacks the marker")
        for to in m.delivered_to:
            got[to.lower()] = got.get(to.lower(), 0) + 1
    for r in rcpts:
        expect(got.get(r) == 1, "%s arrived %s times" % (r, got.get(r, 0)))
    counts = postfix_commands(pf)
    print("postfix saw: %r" % counts)
    return run, counts


def check_turns(run, per_txn):
    """Round trips: `per_txn` in every transaction, and a fresh
    connection's setup (greeting, EHLO, STARTTLS, TLS 1.3, EHLO) in 5."""
    setup, txn, count, conns = turns(run)
    print("round trips: setup %d over %d connection(s), %d over %d "
          "transaction(s); fresh delivery %.1f incl. the TCP connect, "
          "reused %.1f" % (setup, conns, txn, count,
                           1 + setup / max(conns, 1) + per_txn,
                           txn / max(count, 1)))
    expect(count == 10, "%d transactions counted, expected 10" % count)
    expect(txn == per_txn * count, "%d round trips in %d transactions, "
           "expected %d each" % (txn, count, per_txn))
    expect(setup == 5 * conns, "%d round trips setting up %d connection(s),"
           " expected 5 each" % (setup, conns))


@case("postfix-bdat")
def case_postfix_bdat(lab):
    """Postfix offers CHUNKING and PIPELINING: every message goes as BDAT
    LAST (Postfix counts bdat=, never data=), MAIL, RCPT and BDAT in one
    write: one round trip per transaction."""
    run, counts = postfix_run(lab, "bdat.example", [])
    expect(counts.get("bdat") == 10 and "data" not in counts,
           "Postfix saw bdat=%s data=%s, expected 10 and none"
           % (counts.get("bdat"), counts.get("data")))
    check_turns(run, 1)


@case("postfix-no-bdat")
def case_postfix_no_bdat(lab):
    """--no-bdat: DATA, piped after MAIL and RCPT: two round trips per
    transaction, and Postfix counts data=, never bdat=."""
    run, counts = postfix_run(lab, "data.example", ["--no-bdat"])
    expect(counts.get("data") == 10 and "bdat" not in counts,
           "Postfix saw data=%s bdat=%s, expected 10 and none"
           % (counts.get("data"), counts.get("bdat")))
    check_turns(run, 2)


def scripted(lab, domain, script, rcpts):
    """A scripted server for `domain` and one delivery at a time to
    `rcpts`; returns the run and the server's connections."""
    lab.zone(domain, records=["@ MX 10 mx", "mx A 192.0.2.10"])
    server = lab.smtp_server("192.0.2.10", script)
    lab.start()
    msg, marker = message("scripted")
    run = lab.run_client(rcpts, msg, TIMEOUT_ARGS + ["-j", "1"])
    print(stats_line(run, "smtp"))
    return run, server.connections(), marker


@case("scripted-pipelining")
def case_scripted_pipelining(lab):
    """A server that offers PIPELINING and answers MAIL, RCPT and DATA in
    one write (it holds a reply while more commands are there): three
    deliveries on one connection, each with its three replies in one
    packet; two round trips per transaction."""
    rcpts = ["a@pipe.example", "b@pipe.example", "c@pipe.example"]
    run, conns, marker = scripted(lab, "pipe.example",
                                  {"pipelining": True}, rcpts)
    expect_exit(run, EX_OK)
    for r in rcpts:
        expect_result(run, r, "delivered", EX_OK)
    expect(len(conns) == 1, "%d connections, expected 1" % len(conns))
    c = conns[0]
    print("replies per write: %r" % c.writes)
    expect(c.writes.count(3) == 3, "replies per write %r: expected MAIL, "
           "RCPT and DATA answered in one write three times" % c.writes)
    expect(len(c.bodies) == 3 and all(marker.decode() in b for b in c.bodies),
           "%d messages arrived, expected 3" % len(c.bodies))
    _, txn, count, _ = turns(run)
    expect(count == 3 and txn == 6, "%d round trips in %d transactions, "
           "expected 6 in 3" % (txn, count))


@case("scripted-rcpt-550")
def case_scripted_rcpt_550(lab):
    """RCPT refused with DATA piped (DATA then refused too): the first
    recipient fails with the RCPT's own 550, not the DATA's 554; the
    second goes on the same connection with RSET piped ahead of its MAIL
    (four replies in one write)."""
    rcpts = ["a@rcpt.example", "b@rcpt.example"]
    run, conns, marker = scripted(lab, "rcpt.example", {
        "pipelining": True,
        "rcpt": ["550 5.1.1 no such user", "250 2.1.5 Ok"],
        "data": ["554 5.5.1 Error: no valid recipients", "354 go ahead"]},
        rcpts)
    a = expect_result(run, "a@rcpt.example", "permfail", EX_NOUSER)
    expect(str(a.get("reply")).startswith("550 5.1.1") and
           "in reply to RCPT TO" in str(a.get("detail")),
           "reply %r, detail %r" % (a.get("reply"), a.get("detail")))
    expect_result(run, "b@rcpt.example", "delivered", EX_OK)
    expect(len(conns) == 1, "%d connections, expected 1" % len(conns))
    c = conns[0]
    print("replies per write: %r; commands %r" % (c.writes, c.received))
    expect(c.writes.count(3) == 1 and c.writes.count(4) == 1,
           "replies per write %r: expected 3 (MAIL, RCPT, DATA) then 4 "
           "(RSET piped ahead of them)" % c.writes)
    expect(len(c.bodies) == 1 and marker.decode() in c.bodies[0],
           "%d messages arrived, expected 1" % len(c.bodies))


@case("scripted-rcpt-550-354")
def case_scripted_rcpt_550_354(lab):
    """RCPT refused, but DATA answered 354 anyway: the client ends the
    data with the lone dot (RFC 2920 3.1), sends no message, and reports
    the RCPT's 550; the connection carries the next delivery."""
    rcpts = ["a@dot.example", "b@dot.example"]
    run, conns, marker = scripted(lab, "dot.example", {
        "pipelining": True,
        "rcpt": ["550 5.1.1 no such user", "250 2.1.5 Ok"],
        "eod": ["554 5.5.1 no valid recipients", "250 2.0.0 Ok: queued"]},
        rcpts)
    a = expect_result(run, "a@dot.example", "permfail", EX_NOUSER)
    expect(str(a.get("reply")).startswith("550 5.1.1"),
           "reply %r" % a.get("reply"))
    expect_result(run, "b@dot.example", "delivered", EX_OK)
    expect(len(conns) == 1, "%d connections, expected 1" % len(conns))
    bodies = conns[0].bodies
    expect(len(bodies) == 2 and bodies[0] == "" and
           marker.decode() in bodies[1],
           "bodies %r: expected the lone dot, then the message"
           % [b[:40] for b in bodies])


@case("scripted-no-pipelining")
def case_scripted_no_pipelining(lab):
    """A server that does not offer PIPELINING gets one command at a time:
    no command ever arrives before the reply to the one before it."""
    rcpts = ["a@one.example", "b@one.example"]
    run, conns, _ = scripted(lab, "one.example", {}, rcpts)
    expect_exit(run, EX_OK)
    expect(len(conns) == 1, "%d connections, expected 1" % len(conns))
    c = conns[0]
    expect(not c.queued, "sent before the reply to it: %r" % c.queued)
    _, txn, count, _ = turns(run)
    expect(count == 2 and txn == 8, "%d round trips in %d transactions, "
           "expected 8 in 2" % (txn, count))


if __name__ == "__main__":
    sys.exit(labrun.main(CASES, sys.argv[1:]))
