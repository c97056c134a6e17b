#!/usr/bin/env python3
"""Proxy lab cases: the real client through SOCKS5 proxies and proxy commands.

Run one case:  proxy_case.py CASE     (meson registers each as proxy-CASE)
List them:     proxy_case.py --list

Each case builds its own world in its own namespaces (test/lab/, used
read-only, plus proxylab.py here): signed DNS, a Postfix MX (with a TLSA
record where DANE is checked), and real proxies (microsocks, danted,
OpenSSH) or proxy commands.  Every case checks the client's exit status
and JSON AND what the far side saw: the maildir, the proxy's own log, the
bytes a relay carried, the processes left behind.  Each check can fail;
the cases that check an absence (no clear text, no leftover process) also
show that the same check catches the presence.

The client resolves and validates names itself and must hand the proxy an
IP address, never a name: every SOCKS case reads what the proxy was asked.
"""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lab"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import labrun      # noqa: E402
import proxylab    # noqa: E402
from lab import (CaseFailure, expect, expect_exit,   # noqa: E402
                 expect_refused, expect_blackholed,
                 expect_result, EX_OK, EX_TEMPFAIL)
from proxylab import ProxyWorld       # noqa: E402

# A short --timeout keeps a misbehaving client from eating the case's time.
TIMEOUT_ARGS = ["--timeout", "10"]
# Through a proxy command an attempt succeeds only at the MX's first byte,
# so the connect timeout (30 s scaled: 1 s with --timeout 10) also covers
# starting the command (Python, ssh) and the greeting: 3 s here, enough on
# a loaded machine.
COMMAND_TIMEOUT_ARGS = ["--timeout", "60"]

CASES = {}


def case(name):
    """Registers a case function under its meson name; the function gets
    the Lab and a ProxyWorld that is closed (processes stopped) after it."""
    def register(func):
        """Wraps func so its proxies are always stopped by pid."""
        if name in CASES:
            raise RuntimeError("case %s defined twice" % name)

        def run(lab):
            """Runs the case with its proxy world."""
            with ProxyWorld(lab) as world:
                func(lab, world)
        run.__doc__ = func.__doc__
        CASES[name] = run
        return func
    return register


# --- checks ------------------------------------------------------------------

def message(tag):
    """A message with a unique marker (in a header and the body)."""
    marker = ("proxy-marker-%s-%d-%d" % (tag, os.getpid(),
                                         int(time.time()))).encode()
    return (b"From: Lab Sender <lab-sender@sender.example>\n"
            b"To: proxy lab <undisclosed@example>\n"
            b"Subject: proxy case " + tag.encode() + b"\n"
            b"Date: Mon, 23 Nov 2026 00:00:00 +0000\n"
            b"Message-ID: <" + marker + b"@sender.example>\n"
            b"X-Lab-Marker: " + marker + b"\n"
            b"\n"
            b"Through a proxy (" + marker + b").\n"), marker


def expect_delivered_dane(run, recipient):
    """Delivered over TLS with the MX matched to its TLSA records."""
    rec = expect_result(run, recipient, "delivered", EX_OK)
    expect(str(rec.get("tls", "")).startswith("TLS"),
           "%s: tls is %r, expected a TLS version" % (recipient,
                                                      rec.get("tls")))
    expect(rec.get("dane") == "verified", "%s: dane is %r, expected "
           "\"verified\"" % (recipient, rec.get("dane")))
    return rec


def expect_failure_naming(run, recipient, *parts):
    """A temporary failure whose detail contains every one of `parts`."""
    rec = expect_result(run, recipient, "tempfail", EX_TEMPFAIL)
    detail = str(rec.get("detail", ""))
    for part in parts:
        expect(part in detail, "%s: detail %r does not contain %r"
               % (recipient, detail, part))
    return rec


def expect_copies(pf, recipient, count, marker):
    """Exactly `count` copies for `recipient`, each with the marker."""
    expect(pf.settle(), "postfix %s still has mail in flight" % pf.hostname)
    copies = pf.messages_for(recipient)
    expect(len(copies) == count, "%s has %d copies for %s, expected %d"
           % (pf.hostname, len(copies), recipient, count))
    for m in copies:
        expect(marker in m.raw, "copy for %s lacks marker %s"
               % (recipient, marker.decode()))
    return copies


def expect_empty(pf):
    """Nothing delivered to this Postfix, and no message was even started
    (no "client=" line: no SMTP transaction got as far as a queue file)."""
    expect(pf.settle(), "postfix %s still has mail in flight" % pf.hostname)
    got = pf.messages()
    expect(not got, "%s received %d message(s), expected none"
           % (pf.hostname, len(got)))
    started = [l for l in pf.maillog_tail(400).splitlines()
               if " client=" in l]
    expect(not started, "%s started a transaction: %s"
           % (pf.hostname, started[:2]))


RECEIVED_FROM = re.compile(rb"^Received: from \S+ \((?:\S+ )?\[([^\]]+)\]\)",
                           re.M)


def expect_received_from(copy, address):
    """Postfix's Received header names the peer: the proxy's outgoing
    address proves the message came through the proxy."""
    found = RECEIVED_FROM.findall(copy.raw)
    expect(found, "no Received header with a peer address in %s" % copy.path)
    expect(found[0].decode() == address, "the MX got the message from %s, "
           "expected %s (the proxy's address)" % (found[0].decode(), address))


def expect_ip_targets(targets, who, want):
    """Every request the proxy served named an IP address (never a DNS
    name), and the MX address `want` is among them."""
    expect(targets, "%s served no request at all" % who)
    names = [h for h, _ in targets if not proxylab.is_ip(h)]
    expect(not names, "%s was asked for DNS names: %s" % (who, names))
    expect((want, 25) in targets, "%s never connected to %s port 25 "
           "(it did: %s)" % (who, want, targets))


def expect_secret_not_shown(run, secret):
    """A proxy password never appears in the client's output."""
    expect(secret not in run.stdout and secret not in run.stderr,
           "the client printed the proxy password %r" % secret)


def started_pids(run):
    """Pids of the proxy commands the client started (needs -vv)."""
    return [int(p) for p in
            re.findall(r"proxy command \[(\d+)\] started for", run.stderr)]


def expect_no_leftovers(run, argv_match, zombies_before):
    """After the client exited: no process whose argv matches remains,
    none of the commands it started is still there (even as a zombie),
    and no new zombie appeared in the namespace."""
    procs = proxylab.processes()
    left = [p for p in procs if argv_match(p["argv"])]
    expect(not left, "proxy command processes remain after the client "
           "exited: %s" % proxylab.describe_processes(left))
    pids = set(started_pids(run))
    same = [p for p in procs if p["pid"] in pids]
    expect(not same, "processes the client started are still there: %s"
           % proxylab.describe_processes(same))
    zombies = [p for p in procs if p["state"] == "Z"
               and p["pid"] not in zombies_before]
    expect(not zombies, "zombies after the client exited: %s"
           % proxylab.describe_processes(zombies))


def zombie_pids():
    """The pids of the namespace's zombies now (Postfix may have some)."""
    return {p["pid"] for p in proxylab.processes() if p["state"] == "Z"}


def leaks(carried, secrets):
    """Which of `secrets` (bytes) appear in the bytes a relay carried."""
    return [s for s in secrets if s in carried]


def print_elapsed(run, recipient):
    """Shows the delivery's own time in the test log."""
    rec = run.record_for(recipient)
    print("%s: elapsed_ms %s (client wall time %.3f s)"
          % (recipient, rec.get("elapsed_ms"), run.elapsed))
    return rec.get("elapsed_ms")


# --- SOCKS5 ------------------------------------------------------------------

@case("socks5")
def case_socks5(lab, world):
    """microsocks without authentication: delivered through it, TLS and
    DANE verified end to end, and the proxy was asked for an IP."""
    pf = world.dane_mx("socks.example", "192.0.2.21")
    lab.start()
    socks = world.microsocks(bind=proxylab.MICROSOCKS_ADDR)
    expect_empty(pf)
    msg, marker = message("socks5")
    run = lab.run_client(["user@socks.example"], msg,
                         TIMEOUT_ARGS + ["--proxy", socks.url()])
    expect_exit(run, EX_OK)
    expect_delivered_dane(run, "user@socks.example")
    copy = expect_copies(pf, "user@socks.example", 1, marker)[0]
    expect_received_from(copy, proxylab.MICROSOCKS_ADDR)
    expect_ip_targets(socks.targets(), "microsocks", "192.0.2.21")


@case("socks5-auth")
def case_socks5_auth(lab, world):
    """microsocks with -u/-P: the wrong password is a temporary failure
    naming the proxy and delivers nothing; the right one delivers."""
    pf = world.dane_mx("auth.example", "192.0.2.22")
    lab.start()
    password = "lab-Secret-4711"
    wrong = "lab-Wrong-0815"
    socks = world.microsocks(user="labuser", password=password,
                             bind=proxylab.MICROSOCKS_ADDR)
    msg, marker = message("socks5-auth")

    bad = lab.run_client(["user@auth.example"], msg,
                         TIMEOUT_ARGS + ["--proxy", socks.url(wrong)])
    expect_exit(bad, EX_TEMPFAIL)
    expect_failure_naming(bad, "user@auth.example",
                          "SOCKS5 proxy %s:%d" % (socks.address, socks.port),
                          "proxy refused the user name or password")
    expect_secret_not_shown(bad, wrong)
    expect_empty(pf)
    expect(not socks.targets(), "microsocks connected somewhere for a "
           "client with the wrong password: %s" % socks.targets())

    good = lab.run_client(["user@auth.example"], msg,
                          TIMEOUT_ARGS + ["--proxy", socks.url()])
    expect_exit(good, EX_OK)
    expect_delivered_dane(good, "user@auth.example")
    expect_secret_not_shown(good, password)
    copy = expect_copies(pf, "user@auth.example", 1, marker)[0]
    expect_received_from(copy, proxylab.MICROSOCKS_ADDR)
    expect_ip_targets(socks.targets(), "microsocks", "192.0.2.22")


@case("dante")
def case_dante(lab, world):
    """A second SOCKS5 implementation, danted without authentication:
    delivered, DANE verified; dante's log shows an IP destination."""
    pf = world.dane_mx("dante.example", "192.0.2.23")
    lab.start()
    socks = world.dante()
    msg, marker = message("dante")
    run = lab.run_client(["user@dante.example"], msg,
                         TIMEOUT_ARGS + ["--proxy", socks.url()])
    expect_exit(run, EX_OK)
    expect_delivered_dane(run, "user@dante.example")
    copy = expect_copies(pf, "user@dante.example", 1, marker)[0]
    expect_received_from(copy, proxylab.DANTE_ADDR)
    expect_ip_targets(socks.targets(), "danted", "192.0.2.23")


@case("socks5-target-refused")
def case_socks5_target_refused(lab, world):
    """The MX address has no listener: the proxy answers "connection
    refused" (SOCKS reply 5) and the client reports that, naming the
    proxy.  A logging front shows the proxy's own answer."""
    lab.zone("refused.example", records=["@ MX 10 mx",
                                         "mx A 192.0.2.24"])
    lab.start()
    expect_refused("192.0.2.24", 25)
    front = world.front(world.microsocks())
    msg, _ = message("target-refused")
    run = lab.run_client(["user@refused.example"], msg,
                         TIMEOUT_ARGS + ["--proxy", front.url()])
    expect_exit(run, EX_TEMPFAIL)
    expect_failure_naming(run, "user@refused.example",
                          "SOCKS5 proxy %s:%d" % (front.address, front.port),
                          "cannot reach 192.0.2.24 port 25",
                          "connection refused (SOCKS reply 5)")
    requests = front.events("request")
    expect(requests, "the proxy got no request")
    for req in requests:
        expect(req["atyp"] == 1 and req["host"] == "192.0.2.24"
               and req["port"] == 25, "unexpected SOCKS request %r" % req)
        # The front logs the proxy's reply after relaying it: on a busy
        # machine the client can be done before the line is written.
        deadline = time.monotonic() + 3
        while (front.reply_for(req["conn"]) is None and
               time.monotonic() < deadline):
            time.sleep(0.02)
        expect(front.reply_for(req["conn"]) == 5, "the proxy answered %r, "
               "expected 5 (refused)" % front.reply_for(req["conn"]))


@case("socks5-proxy-down")
def case_socks5_proxy_down(lab, world):
    """Nothing listens at the proxy's address: 75 naming the proxy, and
    no direct connection to the MX instead (nothing delivered)."""
    pf = world.dane_mx("down.example", "192.0.2.25")
    lab.start()
    dead = proxylab.DEAD_PROXY_ADDR
    expect_refused(dead, proxylab.SOCKS_PORT)
    msg, _ = message("proxy-down")
    run = lab.run_client(
        ["user@down.example"], msg,
        TIMEOUT_ARGS + ["--proxy", "socks5://%s:%d" % (dead,
                                                      proxylab.SOCKS_PORT)])
    expect_exit(run, EX_TEMPFAIL)
    expect_failure_naming(run, "user@down.example",
                          "SOCKS5 proxy %s:%d" % (dead, proxylab.SOCKS_PORT),
                          "refused")
    expect_empty(pf)


@case("socks5-happy-eyeballs")
def case_socks5_happy_eyeballs(lab, world):
    """The MX's IPv6 address swallows SYNs, its IPv4 address is Postfix:
    through the proxy, IPv6 is asked first, IPv4 250 ms later, and the
    message is delivered over IPv4 well within a second."""
    lab.zone("he.example", records=["@ MX 10 mx", "mx A 192.0.2.26",
                                    "mx AAAA 2001:db8::26"])
    pf = lab.postfix("mx.he.example", ["192.0.2.26"], ["he.example"])
    lab.blackhole("2001:db8::26")
    lab.start()
    expect_blackholed("2001:db8::26")
    front = world.front(world.microsocks())
    msg, marker = message("happy-eyeballs")
    run = lab.run_client(["user@he.example"], msg,
                         TIMEOUT_ARGS + ["--proxy", front.url()])
    expect_exit(run, EX_OK)
    rec = expect_result(run, "user@he.example", "delivered", EX_OK)
    elapsed = print_elapsed(run, "user@he.example")
    expect(rec.get("address") == "192.0.2.26", "delivered via %r, expected "
           "192.0.2.26" % rec.get("address"))
    expect(isinstance(elapsed, int) and elapsed < 1000,
           "elapsed_ms %r, expected < 1000" % elapsed)
    expect_copies(pf, "user@he.example", 1, marker)
    requests = front.events("request")
    expect(len(requests) >= 2, "the proxy got %d request(s), expected an "
           "IPv6 and an IPv4 one: %r" % (len(requests), requests))
    v6, v4 = requests[0], requests[1]
    expect(v6["atyp"] == 4 and v6["host"] == "2001:db8::26",
           "first request %r, expected IPv6 2001:db8::26" % v6)
    expect(v4["atyp"] == 1 and v4["host"] == "192.0.2.26",
           "second request %r, expected IPv4 192.0.2.26" % v4)
    expect(front.reply_for(v6["conn"]) is None,
           "the blackholed IPv6 attempt got a reply: %r"
           % front.reply_for(v6["conn"]))
    expect(front.reply_for(v4["conn"]) == 0, "the IPv4 request got %r"
           % front.reply_for(v4["conn"]))
    stagger = v4["time"] - v6["time"]
    print("IPv4 request %.0f ms after the IPv6 one" % (stagger * 1000))
    expect(0.2 <= stagger < 0.9, "IPv4 asked %.3f s after IPv6, expected "
           "the 250 ms stagger" % stagger)
    names = [r for r in requests if r["atyp"] == 3]
    expect(not names, "the proxy was asked for names: %r" % names)


# --- proxy commands ----------------------------------------------------------

@case("ssh")
def case_ssh(lab, world):
    """ssh -W %h:%p through a real OpenSSH server in the namespace: a host
    key that does not match is refused (75, ssh's words in the report);
    the right one delivers with DANE verified."""
    pf = world.dane_mx("ssh.example", "192.0.2.27")
    lab.start()
    sshd = world.sshd()
    msg, marker = message("ssh")

    bad = lab.run_client(["user@ssh.example"], msg, COMMAND_TIMEOUT_ARGS + [
        "--proxy-command", sshd.command(sshd.wrong_known_hosts)])
    expect_exit(bad, EX_TEMPFAIL)
    expect_failure_naming(bad, "user@ssh.example", "proxy command ssh",
                          "closed the connection")
    # ssh's own words reach the report.  (Which of its lines ends up in
    # the detail is racy with a long stderr: see command-exits-verbose.)
    expect("REMOTE HOST IDENTIFICATION HAS CHANGED" in bad.stderr or
           "Host key verification failed" in bad.stderr,
           "ssh's host key complaint is not in the client's progress")
    expect_empty(pf)
    expect(not sshd.forwards(), "sshd forwarded for an unverified client")

    run = lab.run_client(["user@ssh.example"], msg, COMMAND_TIMEOUT_ARGS + [
        "--proxy-command", sshd.command()])
    expect_exit(run, EX_OK)
    expect_delivered_dane(run, "user@ssh.example")
    expect_copies(pf, "user@ssh.example", 1, marker)
    expect_ip_targets(sshd.forwards(), "sshd", "192.0.2.27")


@case("command-exits")
def case_command_exits(lab, world):
    """A proxy command that exits at once: 75, and the line it wrote to
    stderr is in the report."""
    pf = world.dane_mx("exits.example", "192.0.2.28")
    lab.start()
    said = "lab-proxy-says-no"
    command = "sh -c 'echo %s >&2; exit 1'" % said
    msg, _ = message("command-exits")
    run = lab.run_client(["user@exits.example"], msg,
                         TIMEOUT_ARGS + ["--proxy-command", command])
    expect_exit(run, EX_TEMPFAIL)
    expect_failure_naming(run, "user@exits.example", "proxy command sh",
                          "closed the connection", "(%s)" % said)
    expect(re.search(r"proxy command \[\d+\]: %s" % said, run.stderr),
           "no progress line with the command's stderr")
    expect_empty(pf)


@case("command-exits-verbose")
def case_command_exits_verbose(lab, world):
    """A proxy command that says a lot on stderr (1000 lines, ~41 KB; ssh
    says ~1.5 KB when it refuses a host key) and then exits: its LAST
    line, the one that says why, is in the report, and every line is in
    the progress lines."""
    pf = world.dane_mx("verbose.example", "192.0.2.33")
    lab.start()
    said = "lab-proxy-final-words"
    # One write of everything, then exit at once (no shell pipeline whose
    # members end at different times): the order ssh uses, made exact.
    code = ("import os; os.write(2, b'filler line of a talkative proxy "
            "command\\n' * 1000 + b'%s\\n'); os._exit(1)" % said)
    command = proxylab.command_template([sys.executable, "-c", code])
    msg, _ = message("command-exits-verbose")
    run = lab.run_client(["user@verbose.example"], msg,
                         TIMEOUT_ARGS + ["--proxy-command", command])
    expect_exit(run, EX_TEMPFAIL)
    shown = re.findall(r"proxy command \[\d+\]: (.*)", run.stderr)
    print("%d of the command's 1001 stderr lines shown, the last: %r"
          % (len(shown), shown[-1:]))
    expect(said in shown, "the command's last stderr line is not among "
           "the progress lines (%d of 1001 shown, the last: %r)"
           % (len(shown), shown[-1:]))
    expect(len(shown) == 1001, "%d of the command's 1001 stderr lines "
           "shown" % len(shown))
    expect_failure_naming(run, "user@verbose.example",
                          "proxy command " + sys.executable,
                          "closed the connection", "(%s)" % said)
    expect_empty(pf)


@case("command-silent")
def case_command_silent(lab, world):
    """A proxy command that never answers (sleep 600) with --timeout 6:
    75 within ~10 s, and every command it started is gone afterwards
    (killed and reaped, not even a zombie)."""
    pf = world.dane_mx("silent.example", "192.0.2.29", "2001:db8::29")
    lab.start()
    zombies = zombie_pids()
    msg, _ = message("command-silent")
    run = lab.run_client(["user@silent.example"], msg,
                         ["--timeout", "6", "-vv",
                          "--proxy-command", "sleep 600"], timeout=40)
    print("client wall time %.1f s, commands started: %s"
          % (run.elapsed, started_pids(run)))
    expect_no_leftovers(run, lambda argv: argv == ["sleep", "600"], zombies)
    expect_exit(run, EX_TEMPFAIL)
    expect_failure_naming(run, "user@silent.example", "proxy command sleep",
                          "timed out")
    expect(run.elapsed < 10.5, "the client took %.1f s, expected about 10 "
           "at most" % run.elapsed)
    expect(started_pids(run), "no \"started for\" progress line (-vv)")
    # The same check sees a sleep 600 that is there.
    sleeper = world.spawn("sleeper", ["sleep", "600"])
    # Until it has exec'd, the child still shows Python's argv: on a busy
    # machine the check would look too early and miss it.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/cmdline" % sleeper.pid, "rb") as f:
                if f.read().split(b"\0")[:2] == [b"sleep", b"600"]:
                    break
        except OSError:
            break
        time.sleep(0.02)
    try:
        expect_no_leftovers(run, lambda argv: argv == ["sleep", "600"],
                            zombies)
        raise CaseFailure("the leftover check missed a running sleep 600")
    except CaseFailure as e:
        expect("sleep 600" in str(e) and str(sleeper.pid) in str(e),
               "the leftover check failed for another reason: %s" % e)
    finally:
        world.stop(sleeper)
    expect_empty(pf)


@case("command-ciphertext")
def case_command_ciphertext(lab, world):
    """A relay that logs every byte it carries sees the clear-text
    preamble up to STARTTLS and then only ciphertext: no marker, no MAIL
    FROM, no recipient.  The same relay and check with --tls-level may
    against a server without STARTTLS does see them."""
    pf = world.dane_mx("tee.example", "192.0.2.30")
    lab.zone("plain.example", records=["@ MX 10 mx", "mx A 192.0.2.31"])
    plain = lab.smtp_server("192.0.2.31")
    lab.start()
    rcpt = "secret-rcpt@tee.example"

    command, prefix = world.relay_command("tls")
    msg, marker = message("ciphertext")
    run = lab.run_client([rcpt], msg,
                         COMMAND_TIMEOUT_ARGS + ["--proxy-command", command])
    expect_exit(run, EX_OK)
    expect_delivered_dane(run, rcpt)
    copy = expect_copies(pf, rcpt, 1, marker)[0]
    expect_received_from(copy, proxylab.RELAY_SOURCE)
    relays = world.relay_logs(prefix)
    expect(len(relays) == 1, "%d relay runs, expected 1" % len(relays))
    relay = relays[0]
    expect((relay["host"], relay["port"], relay["name"]) ==
           ("192.0.2.30", 25, "mx.tee.example"),
           "the relay was started for %r" % relay)
    up, down = relay["up"], relay["down"]
    # The capture works: the clear-text preamble is there.
    expect(down.startswith(b"220 "), "the relay did not carry the greeting")
    expect(b"EHLO " in up and b"STARTTLS\r\n" in up,
           "the relay did not carry EHLO and STARTTLS: %r" % up[:200])
    after = up.split(b"STARTTLS\r\n", 1)[1]
    expect(after[:1] == b"\x16", "after STARTTLS the client sent %r, not a "
           "TLS handshake record" % after[:16])
    secrets = [marker, b"MAIL FROM", rcpt.encode(), b"RCPT TO",
               b"lab-sender@sender.example"]
    found = leaks(up + down, secrets)
    expect(not found, "clear text after STARTTLS on the wire: %r" % found)

    # The same capture and check without TLS: they must see it all.
    command, prefix = world.relay_command("plain")
    msg2, marker2 = message("cleartext")
    run2 = lab.run_client(["user@plain.example"], msg2,
                          COMMAND_TIMEOUT_ARGS + ["--tls-level", "may",
                                                  "--proxy-command", command])
    expect_exit(run2, EX_OK)
    rec = expect_result(run2, "user@plain.example", "delivered", EX_OK)
    expect(rec.get("tls") is False, "tls %r to a server without STARTTLS"
           % rec.get("tls"))
    conns = plain.connections()
    expect(len(conns) == 1 and any(marker2.decode() in b for b in
                                   conns[0].bodies),
           "the server without STARTTLS did not get the message")
    carried = b"".join(r["up"] + r["down"] for r in world.relay_logs(prefix))
    secrets2 = [marker2, b"MAIL FROM", b"user@plain.example", b"RCPT TO",
                b"lab-sender@sender.example"]
    found2 = leaks(carried, secrets2)
    expect(found2 == secrets2, "the clear-text run shows only %r of %r: "
           "the capture would miss a leak" % (found2, secrets2))


@case("command-children")
def case_command_children(lab, world):
    """Eight recipients with -j 4, each through its own relay command:
    all delivered, and once the client has exited no relay process and
    no zombie is left."""
    pf = world.dane_mx("kids.example", "192.0.2.32")
    lab.start()
    rcpts = ["kid%d@kids.example" % i for i in range(1, 9)]
    command, prefix = world.relay_command("kids")
    zombies = zombie_pids()
    msg, marker = message("children")
    run = lab.run_client(rcpts, msg, COMMAND_TIMEOUT_ARGS + [
        "-j", "4", "-vv", "--proxy-command", command])

    def is_relay(argv):
        """A tee_relay.py process (by its argv)."""
        return any(a.endswith("tee_relay.py") for a in argv)
    expect_no_leftovers(run, is_relay, zombies)
    expect_exit(run, EX_OK)
    for r in rcpts:
        expect_delivered_dane(run, r)
        expect_copies(pf, r, 1, marker)
    relays = world.relay_logs(prefix)
    print("%d relay commands for %d recipients (pids %s)"
          % (len(relays), len(rcpts), started_pids(run)))
    expect(1 <= len(relays) <= len(started_pids(run)),
           "%d relays ran, the client reports %d started"
           % (len(relays), len(started_pids(run))))
    for relay in relays:
        expect(b"STARTTLS\r\n" in relay["up"] or not relay["up"],
               "relay %d carried a session without STARTTLS" % relay["pid"])
    # The same check sees a relay that is left running.
    stray = world.spawn("stray-relay", [
        sys.executable, proxylab.TEE_RELAY, prefix + "-stray",
        "192.0.2.32", "25"], stdin=subprocess.PIPE)
    try:
        time.sleep(0.3)
        expect_no_leftovers(run, is_relay, zombies)
        raise CaseFailure("the leftover check missed a running relay")
    except CaseFailure as e:
        expect(str(stray.pid) in str(e), "the leftover check failed for "
               "another reason: %s" % e)
    finally:
        world.stop(stray)


@case("command-no-pidfd")
def case_command_no_pidfd(lab, world):
    """Without pidfd_open (preloaded shim: ENOSYS, as under valgrind
    3.19): four recipients with -j 2 through relay commands, and one
    command that exits at once, are reported as usual; the client says it
    polls for the commands' exits, and once it has exited no relay process
    and no zombie is left."""
    pf = world.dane_mx("nopidfd.example", "192.0.2.33")
    lab.start()
    shim = os.environ["MXC_NOPIDFD"]
    # The shim is not built with ASan: let it come first.
    env = {"LD_PRELOAD": shim,
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
           ":verify_asan_link_order=0"}
    rcpts = ["np%d@nopidfd.example" % i for i in range(1, 5)]
    command, prefix = world.relay_command("nopidfd")
    zombies = zombie_pids()
    msg, marker = message("no-pidfd")
    run = lab.run_client(rcpts, msg, COMMAND_TIMEOUT_ARGS + [
        "-j", "2", "-vv", "--proxy-command", command], env=env)

    def is_relay(argv):
        """A tee_relay.py process (by its argv)."""
        return any(a.endswith("tee_relay.py") for a in argv)
    expect_no_leftovers(run, is_relay, zombies)
    expect_exit(run, EX_OK)
    expect("its exit is polled" in run.stderr, "the client never fell back "
           "to polling: was the shim preloaded?")
    for r in rcpts:
        expect_delivered_dane(run, r)
        expect_copies(pf, r, 1, marker)
    run = lab.run_client(["user@nopidfd.example"], msg, TIMEOUT_ARGS + [
        "-vv", "--proxy-command", "sh -c 'echo lab-no-pidfd >&2; exit 1'"],
        env=env)
    expect_exit(run, EX_TEMPFAIL)
    expect_failure_naming(run, "user@nopidfd.example", "proxy command sh",
                          "closed the connection", "(lab-no-pidfd)")
    expect_no_leftovers(run, lambda a: a[:1] == ["sh"], zombies)


# --- misbehaving proxies -------------------------------------------------

# bad_socks.py's modes, their ports, and words the client's detail must
# contain besides the proxy's name.
BAD_SOCKS_MODES = {
    "garbage": (1091, ""),
    "version": (1092, ""),
    "error": (1093, "cannot reach 192.0.2.34 port 25"),
    "close": (1094, "closed the connection"),
    "trickle": (1095, "timed out"),
    "silent": (1096, "timed out"),
}


@case("socks5-misbehaving")
def case_socks5_misbehaving(lab, world):
    """SOCKS5 proxies that answer the greeting with garbage, with version
    4, refuse the CONNECT (code 2), close after the greeting, trickle a
    255-byte reply one byte a second, or never answer the CONNECT: each
    run ends 75 (not a crash, not a hang) within the attempt's timeout,
    the detail names the proxy, and the MX never hears of it."""
    mx = lab.smtp_server("192.0.2.34")
    lab.zone("badsocks.example", records=["@ MX 10 mx", "mx A 192.0.2.34"])
    lab.start()
    log = world.bad_socks({m: p for m, (p, _) in BAD_SOCKS_MODES.items()})
    msg, _ = message("socks5-misbehaving")
    # --timeout 60: the attempt (connect timeout, 30 s scaled) gets 3 s.
    for mode, (port, words) in sorted(BAD_SOCKS_MODES.items()):
        rcpt = "%s@badsocks.example" % mode
        proxy = "%s:%d" % (proxylab.BAD_SOCKS_ADDR, port)
        run = lab.run_client([rcpt], msg, [
            "--timeout", "60", "--proxy", "socks5://" + proxy], timeout=60)
        rec = run.record_for(rcpt) if run.records else {}
        print("%s: exit %s after %.1f s: %s" % (mode, run.exit, run.elapsed,
                                                rec.get("detail")))
        expect_exit(run, EX_TEMPFAIL)
        expect_failure_naming(run, rcpt, "SOCKS5 proxy " + proxy, words)
        # Garbage, a wrong version, an error code and a close are seen at
        # once; the trickle and the silence take the 3 s deadline.
        limit = 8 if mode in ("trickle", "silent") else 2.5
        expect(run.elapsed < limit, "%s: the client took %.1f s, expected "
               "under %.1f" % (mode, run.elapsed, limit))
    events = [json.loads(l) for l in open(log)]
    for mode in BAD_SOCKS_MODES:
        expect(any(e["event"] == "greeting" and e["mode"] == mode
                   for e in events),
               "bad_socks %s never got the client's greeting" % mode)
    for mode in ("error", "silent"):
        expect(any(e["event"] == "request" and e["mode"] == mode
                   for e in events),
               "bad_socks %s never got a CONNECT request" % mode)
    # The trickler notices the client is gone at its next byte or two.
    deadline = time.monotonic() + 5
    while True:
        gone = [e for e in map(json.loads, open(log)) if
                e["event"] == "gone" and e["mode"] == "trickle"]
        if gone or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    expect(gone and gone[0]["sent"] < 30, "the trickling proxy was not "
           "dropped early: %r" % gone)
    expect_no_connection(mx)


def expect_no_connection(server):
    """The scripted MX was never contacted (the proxy carried nothing)."""
    conns = server.connections()
    expect(not conns, "the MX %s got %d connection(s)"
           % (server.address, len(conns)))


# Proxy commands that misbehave: name -> (argv, words in the detail).
# Each is run with -vv so the client names the pids it started.
#
# Garbage instead of a greeting: the attempt through a command succeeds
# at the first byte (the MX's greeting, as far as the transport can
# tell), so the garbage fails as a malformed greeting; the detail names
# the command as the way the MX was reached.
BAD_COMMANDS = {
    # Exits at once, status 0, not a byte written.
    "exit-0": (["true"], "the command closed the connection"),
    # Exits 3 after a stderr line full of control bytes and 8-bit text:
    # the line is in the report, escaped.
    "exit-3-stderr": ([sys.executable, "-c",
                       "import os; os.write(2, b'lab \\x1b[31mred\\x07 "
                       "\\xff\\xfe proxy says no\\n'); os._exit(3)"],
                      "proxy says no"),
    # Writes garbage where the greeting belongs, then stays.
    "garbage": ([sys.executable, "-c",
                 "import os, time; os.write(1, b'\\x16\\x03\\x01 garbage "
                 "\\xff not SMTP\\r\\n'); time.sleep(600)"],
                "while receiving the initial server greeting"),
    # Writes garbage and exits.
    "garbage-exit": (["printf", "HTTP/1.1 502 Bad Gateway\\r\\n\\r\\n"],
                     "while receiving the initial server greeting"),
    # Says nothing, ever (a hung ssh): killed at the deadline.
    "silent": (["sleep", "600"], "timed out"),
}


@case("command-misbehaving")
def case_command_misbehaving(lab, world):
    """Proxy commands that exit at once (0), exit 3 after a stderr line of
    control and 8-bit bytes, write garbage instead of a greeting (and
    stay, or exit), or hang silent: each run ends 75 within the greeting
    deadline, the detail names the proxy command, the stderr line is
    shown escaped (no raw control byte in any output), and no process the
    client started is left, not even a zombie."""
    mx = lab.smtp_server("192.0.2.35")
    lab.zone("badcmd.example", records=["@ MX 10 mx", "mx A 192.0.2.35"])
    lab.start()
    msg, _ = message("command-misbehaving")
    for name, (argv, words) in sorted(BAD_COMMANDS.items()):
        zombies = zombie_pids()
        rcpt = "%s@badcmd.example" % name
        # --timeout 20: the attempt through a command gets the greeting's
        # time, 300 s scaled: 10 s.
        run = lab.run_client([rcpt], msg, [
            "--timeout", "20", "-vv",
            "--proxy-command", proxylab.command_template(argv)], timeout=60)
        rec = run.record_for(rcpt) if run.records else {}
        print("%s: exit %s after %.1f s: %s" % (name, run.exit, run.elapsed,
                                                rec.get("detail")))
        expect_exit(run, EX_TEMPFAIL)
        detail = expect_failure_naming(run, rcpt, "proxy command " + argv[0],
                                       words)["detail"]
        expect(run.elapsed < 14, "%s: the client took %.1f s, expected "
               "under 14" % (name, run.elapsed))
        expect(started_pids(run), "%s: no \"started for\" line" % name)
        expect_no_leftovers(run, lambda a, argv=argv: a == argv, zombies)
        for text in (run.stdout, run.stderr):
            raw = [c for c in text if ord(c) < 32 and c not in "\n"
                   or 127 <= ord(c) < 160 or c == "\ufffd"]
            expect(not raw, "%s: raw control or 8-bit bytes in the "
                   "client's output: %r" % (name, raw[:5]))
        if name == "exit-3-stderr":
            expect("\\x1b[31mred\\x07" in detail, "the stderr line is not "
                   "in the detail, escaped: %r" % detail)
    expect_no_connection(mx)


if __name__ == "__main__":
    sys.exit(labrun.main(CASES, sys.argv[1:]))
