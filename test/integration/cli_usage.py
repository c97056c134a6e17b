#!/usr/bin/env python3
"""Command-line errors of $MXCLIENT: exit codes, and that nothing else happens.

Needs no root and no lab.  The client is pointed at a "resolver" that is
only a UDP socket of this test: any datagram on it means the client went on
to look something up when it should have stopped at the command line.
"""

import os
import pty
import re
import resource
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_UNAVAILABLE = 69
EX_IOERR = 74
EX_TEMPFAIL = 75
EX_CONFIG = 78

MESSAGE = b"From: a@sender.example\nSubject: cli\n\nbody\n"
RCPT = "user@cli-usage.example"


class Recorder:
    """A UDP socket on 127.0.0.1 standing in for the resolver."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def resolver_args(self):
        """The client options that send its DNS here."""
        return ["--resolver", "127.0.0.1#%d" % self.port]

    def drain(self):
        """How many datagrams arrived since the last call."""
        n = 0
        while True:
            try:
                self.sock.recv(4096)
                n += 1
            except BlockingIOError:
                return n


def run(client, args, stdin=MESSAGE, fd_limit=None):
    """Runs the client (with RLIMIT_NOFILE at fd_limit, soft and hard, if
    given); returns (exit, stdout, stderr)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))
    try:
        p = subprocess.run([client] + args, input=stdin, capture_output=True,
                           timeout=15, preexec_fn=limit if fd_limit else None)
    except subprocess.TimeoutExpired:
        return "timeout", "", ""
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def check_case(client, recorder, name, args, want_exit, stdin=MESSAGE,
               extra=None, fd_limit=None):
    """One check: the exit code, no DNS traffic, and `extra` (a function of
    stdout, stderr returning an error string or None)."""
    recorder.drain()
    code, out, err = run(client, recorder.resolver_args() + args, stdin,
                         fd_limit)
    problems = []
    if code != want_exit:
        problems.append("exit %r, expected %d" % (code, want_exit))
    queries = recorder.drain()
    if queries:
        problems.append("%d DNS queries sent; expected none" % queries)
    if extra:
        msg = extra(out, err)
        if msg:
            problems.append(msg)
    if problems:
        print("not ok - %s: %s\n  args: %s\n  stdout: %r\n  stderr: %r"
              % (name, "; ".join(problems), args, out[-800:], err[-800:]))
        return False
    print("ok - %s" % name)
    return True


def one_stderr_line_naming(address):
    """The bad-address rule: one stderr line naming it, stdout empty."""
    def check(out, err):
        """Returns what is wrong with the output, or None."""
        lines = [l for l in err.splitlines() if l.strip()]
        if len(lines) != 1:
            return "%d stderr lines, expected 1" % len(lines)
        if address not in lines[0]:
            return "stderr line does not name %s" % address
        if out.strip():
            return "stdout not empty"
        return None
    return check


def one_stderr_line(out, err):
    """A configuration error: exactly one line on stderr, nothing on
    stdout."""
    lines = [l for l in err.splitlines() if l.strip()]
    if len(lines) != 1:
        return "%d stderr lines, expected 1" % len(lines)
    if out.strip():
        return "stdout not empty"
    return None


def says_usage(out, err):
    """--help must print a usage text on stdout."""
    return None if "usage" in out.lower() else "no usage text on stdout"


def says_version(out, err):
    """--version must print something that looks like a version."""
    return None if any(c.isdigit() for c in out) else "no version on stdout"


def report(name, problems, detail=""):
    """Prints one check's verdict; returns whether it held."""
    if problems:
        print("not ok - %s: %s%s" % (name, "; ".join(problems), detail))
        return False
    print("ok - %s" % name)
    return True


def recipients_counted(err):
    """The -vv figure: (recipients kept, duplicate-table lookups)."""
    m = re.search(r"mxclient: (\d+) recipients, (\d+) lookups", err)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def check_rcpt_files(client, recorder, tmp):
    """Every --rcpt-file adds; duplicates across all sources go, the
    domain compared without case, the local part with."""
    a = os.path.join(tmp, "rcpts-a")
    b = os.path.join(tmp, "rcpts-b")
    with open(a, "w") as f:
        f.write("a1@one.example\na2@one.example\n# comment\nA1@one.example\n")
    with open(b, "w") as f:
        f.write("b1@two.example\na1@ONE.example\n<a2@one.example>\n")
    # The NUL byte stops the run after the command line: no DNS.
    code, out, err = run(client, recorder.resolver_args() +
                         ["-vv", "--rcpt-file", a, "--rcpt-file", b,
                          "c@three.example"], b"\0")
    kept, _ = recipients_counted(err)
    problems = []
    if code != EX_DATAERR:
        problems.append("exit %r, expected %d" % (code, EX_DATAERR))
    # c, a1, a2, A1 (another local part), b1
    if kept != 5:
        problems.append("%r recipients kept, expected 5" % kept)
    return report("two --rcpt-file options both add, deduplicated",
                  problems, "\n  stderr: %r" % err[-600:])


def check_many_rcpts(client, recorder, tmp):
    """100,000 recipients (every one twice): the duplicate check is linear
    (lookups counted, and the wall time shown) where it was quadratic."""
    path = os.path.join(tmp, "rcpts-many")
    n = 100000
    with open(path, "w") as f:
        for i in range(n // 2):
            f.write("user%d@domain%d.example\n" % (i, i % 997))
        for i in range(n // 2):
            f.write("user%d@DOMAIN%d.example\n" % (i, i % 997))
    t0 = time.monotonic()
    code, out, err = run(client, recorder.resolver_args() +
                         ["-vv", "--rcpt-file", path], b"\0")
    secs = time.monotonic() - t0
    kept, lookups = recipients_counted(err)
    problems = []
    if code != EX_DATAERR:
        problems.append("exit %r, expected %d" % (code, EX_DATAERR))
    if kept != n // 2:
        problems.append("%r recipients kept, expected %d" % (kept, n // 2))
    # Linear: a few lookups per line given (a quadratic scan would make
    # about n*n/4 comparisons); the time bound is generous for ASan.
    if lookups is None or lookups > 4 * n:
        problems.append("%r lookups for %d lines" % (lookups, n))
    if secs > 10:
        problems.append("took %.1f s" % secs)
    print("# %d lines, %r kept, %r table lookups, %.2f s" % (n, kept, lookups,
                                                            secs))
    return report("100,000 recipients: linear duplicate check", problems)


def run_to_end(client, args, stdout=subprocess.PIPE, stdin=MESSAGE,
               stderr=subprocess.PIPE):
    """Runs the client whose deliveries run (and fail at DNS) to the end."""
    p = subprocess.run([client] + args, input=stdin, stdout=stdout,
                       stderr=stderr, timeout=60)
    return (p.returncode, (p.stdout or b"").decode("utf-8", "replace"),
            (p.stderr or b"").decode("utf-8", "replace"))


def summary(err):
    """The summary line's counts: (recipients, delivered, deferred,
    bounced), or None."""
    m = re.search(r"mxclient: (\d+) recipients?: (\d+) delivered, (\d+) "
                  r"deferred, (\d+) bounced in [\d.]+ s \([\d.]+ "
                  r"deliveries/s\)", err)
    return tuple(int(g) for g in m.groups()) if m else None


def check_output_errors(client, recorder):
    """Results that cannot be written (stdout is /dev/full) end with
    EX_IOERR, after every delivery finished (the summary counts them).
    The resolver never answers: with --timeout 1 each lookup gives up
    after a second."""
    results = []
    rcpts = ["u%d@full.example" % i for i in range(3)]
    for mode in (["--json"], []):
        with open("/dev/full", "w") as full:
            code, _, err = run_to_end(client, recorder.resolver_args() + mode +
                                      ["--timeout", "1", "-f",
                                       "s@sender.example", "--helo",
                                       "client.example"] + rcpts,
                                      stdout=full)
        recorder.drain()
        problems = []
        if code != EX_IOERR:
            problems.append("exit %r, expected %d" % (code, EX_IOERR))
        if summary(err) != (3, 0, 3, 0):
            problems.append("summary %r, expected 3 deferred" % (summary(err),))
        if "not all written" not in err:
            problems.append("no word about the lost results")
        results.append(report("stdout on /dev/full %s: exit 74 after the "
                              "deliveries" % (mode or "plain"), problems,
                              "\n  stderr: %r" % err[-600:]))
    return results


def check_result_lines(client, recorder):
    """Postfix's words per result, the summary, and quiet mode."""
    rcpts = ["p1@lines.example", "p2@lines.example"]
    base = recorder.resolver_args() + ["--timeout", "1", "-f",
                                       "s@sender.example", "--helo",
                                       "client.example"]
    code, out, err = run_to_end(client, base + rcpts)
    recorder.drain()
    problems = []
    if code != EX_TEMPFAIL:
        problems.append("exit %r, expected %d" % (code, EX_TEMPFAIL))
    for r in rcpts:
        pat = (r"^%s: \d{4}-\d\d-\d\dT[\d:]+Z to=<%s>, relay=none, "
               r"delay=[\d.]+, delays=0/[\d.]+/[\d.]+/[\d.]+, dsn=4\.0\.0, "
               r"status=deferred \(.+\), tls=none, dane=none$"
               % (re.escape(r), re.escape(r)))
        if not re.search(pat, out, re.M):
            problems.append("no Postfix-style line for %s" % r)
    if summary(err) != (2, 0, 2, 0):
        problems.append("summary %r" % (summary(err),))
    if not re.search(r"^dns: ", err, re.M):
        problems.append("no dns: counters line")
    results = [report("result lines in Postfix words, summary", problems,
                      "\n  stdout: %r\n  stderr: %r" % (out[-600:],
                                                       err[-600:]))]
    code, out, err = run_to_end(client, base + ["-q"] + rcpts)
    recorder.drain()
    problems = []
    if sum(1 for l in out.splitlines() if "status=deferred" in l) != 2:
        problems.append("failures not shown")
    if re.search(r"^dns: ", err, re.M):
        problems.append("counters shown in quiet mode")
    if summary(err) != (2, 0, 2, 0):
        problems.append("no summary in quiet mode")
    if any("MX for" in l or "lookup" in l.lower() and "fail" not in l.lower()
           for l in out.splitlines()):
        problems.append("progress shown in quiet mode")
    results.append(report("-q: failures and the summary only", problems,
                          "\n  stdout: %r\n  stderr: %r" % (out[-600:],
                                                           err[-600:])))
    return results


def check_live_progress(client, recorder):
    """On a terminal, runs of several recipients show a live line
    (counts, in flight, rate) that is redrawn in place."""
    master, slave = pty.openpty()
    rcpts = ["l%d@live.example" % i for i in range(6)]
    p = subprocess.Popen([client] + recorder.resolver_args() +
                         ["--timeout", "3", "-f", "s@sender.example",
                          "--helo", "client.example"] + rcpts,
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=slave)
    os.close(slave)
    p.stdin.write(MESSAGE)
    p.stdin.close()
    data = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    p.wait(timeout=30)
    os.close(master)
    recorder.drain()
    text = data.decode("utf-8", "replace")
    problems = []
    if not re.search(r"\r\x1b\[K0 delivered, 0 deferred, 0 bounced, 6 in "
                     r"flight of 6; [\d.]+/s", text):
        problems.append("no live progress line")
    if summary(text) != (6, 0, 6, 0):
        problems.append("no summary")
    return report("live progress on a terminal", problems,
                  "\n  stderr: %r" % text[-600:])


def check_host_names(client, recorder, tmp):
    """Without --helo and -f: the FQDN /etc/hosts gives this host is used;
    a bare host name draws a warning.  Runs in its own UTS and mount
    namespaces (hostname, /etc/hosts, /etc/resolv.conf of its own); skipped
    where unshare is refused."""
    if shutil.which("unshare") is None:
        print("ok - host names # SKIP no unshare")
        return True
    hosts = os.path.join(tmp, "hosts")
    resolv = os.path.join(tmp, "resolv.conf")
    results = []
    for name, hosts_text, want_helo, warns in [
            ("FQDN from /etc/hosts",
             "127.0.1.1 shorty.fqdn.example shorty\n", "shorty.fqdn.example",
             False),
            ("bare host name", "127.0.0.1 localhost\n", "shorty", True)]:
        with open(hosts, "w") as f:
            f.write(hosts_text)
        with open(resolv, "w") as f:
            f.write("nameserver 127.0.0.1\n")
        script = ('hostname shorty && mount --bind "$1" /etc/hosts && '
                  'mount --bind "$2" /etc/resolv.conf && shift 2 && '
                  'exec "$@"')
        cmd = ["unshare", "--uts", "--mount", "--map-root-user", "sh", "-c",
               script, "sh", hosts, resolv, client, "-v",
               "--proxy-command", "/nonexistent/proxy %h %p"] + \
              recorder.resolver_args() + [RCPT]
        p = subprocess.run(cmd, input=MESSAGE, capture_output=True,
                           timeout=15)
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode not in (EX_UNAVAILABLE,) and "hostname" in err:
            print("ok - %s # SKIP unshare refused: %r" % (name, err[:200]))
            results.append(True)
            continue
        problems = []
        if "EHLO %s\n" % want_helo not in err:
            problems.append("EHLO is not %s" % want_helo)
        if ("@%s>" % want_helo) not in err:
            problems.append("sender not at %s" % want_helo)
        results.append(report("host name: " + name, problems,
                              "\n  stderr: %r" % err[-600:]))
    # The warning comes once the engine is up: a delivery that fails.
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n")
    cmd = ["unshare", "--uts", "--mount", "--map-root-user", "sh", "-c",
           'hostname shorty && mount --bind "$1" /etc/hosts && '
           'mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@"',
           "sh", hosts, resolv, client, "--timeout", "1"] + \
        recorder.resolver_args() + [RCPT]
    p = subprocess.run(cmd, input=MESSAGE, capture_output=True, timeout=30)
    recorder.drain()
    err = p.stderr.decode("utf-8", "replace")
    problems = []
    if "warning: EHLO name shorty is not a fully qualified" not in err:
        problems.append("no warning about the bare EHLO name")
    results.append(report("bare host name: warning", problems,
                          "\n  stderr: %r" % err[-600:]))
    return all(results)


def check_periodic_progress(client, recorder):
    """Off a terminal, a run of several recipients logs a count line on
    stderr every 10 s.  Address-literal recipients (no DNS at all) reached
    through a proxy command that never says a word: each waits out its
    greeting timeout (300 s scaled by 25/600: 12.5 s)."""
    rcpts = ["p%d@[192.0.2.%d]" % (i, 20 + i) for i in range(5)]
    t0 = time.monotonic()
    code, out, err = run_to_end(client, recorder.resolver_args() +
                                ["--timeout", "25", "-f", "s@sender.example",
                                 "--helo", "client.example",
                                 "--proxy-command", "sleep 60"] + rcpts)
    secs = time.monotonic() - t0
    problems = []
    if recorder.drain():
        problems.append("DNS queries for address literals")
    if code != EX_TEMPFAIL:
        problems.append("exit %r, expected %d" % (code, EX_TEMPFAIL))
    if not re.search(r"^mxclient: progress: 0 delivered, 0 deferred, 0 "
                     r"bounced, 5 in flight of 5; ", err, re.M):
        problems.append("no periodic progress line")
    if summary(err) != (5, 0, 5, 0):
        problems.append("summary %r" % (summary(err),))
    for r in rcpts:
        if not re.search(r"^%s: .* relay=\S+:25, .*status=deferred"
                         % re.escape(r), out, re.M):
            problems.append("no result line for %s" % r)
    if "no MX lookup" not in out:
        problems.append("no word that the literal needs no MX")
    return report("periodic progress off a terminal (%.1f s)" % secs,
                  problems, "\n  stdout: %r\n  stderr: %r" % (out[-800:],
                                                           err[-800:]))


class Sink(socketserver.StreamRequestHandler):
    """A minimal SMTP server on loopback: accepts everything, in clear,
    and records the commands it was sent."""

    def reply(self, text):
        """Sends one reply."""
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        """One connection."""
        self.server.connections += 1
        self.reply("220 sink.test ESMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            self.server.commands.append(cmd)
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                self.reply("250-sink.test\r\n250 8BITMIME")
            elif verb == "DATA":
                self.reply("354 go ahead")
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
                self.reply("250 2.0.0 queued as T1")
            elif verb == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            else:
                self.reply("250 2.0.0 ok")


def check_literal_delivery(client, recorder):
    """user@[127.0.0.1] goes to that address (a local sink on its own
    port): no DNS, a Postfix-style sent line, a word that it went in clear;
    dane-only refuses it (69) without connecting."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Sink)
    server.daemon_threads = True
    server.commands, server.connections = [], 0
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rcpt = "you@[127.0.0.1]"
    base = recorder.resolver_args() + ["--port", str(port), "-f",
                                       "s@sender.example", "--helo",
                                       "client.example"]
    try:
        code, out, err = run_to_end(client, base + [rcpt])
        problems = []
        if recorder.drain():
            problems.append("DNS queries for an address literal")
        if code != EX_OK:
            problems.append("exit %r, expected 0" % code)
        if "RCPT TO:<%s>" % rcpt not in server.commands:
            problems.append("the sink got no RCPT TO:<%s>" % rcpt)
        pat = (r"^%s: \S+ to=<%s>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, "
               r"delay=[\d.]+, delays=0/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, "
               r"status=sent \(250 2\.0\.0 queued as T1\), tls=none, "
               r"dane=none$" % (re.escape(rcpt), re.escape(rcpt), port))
        if not re.search(pat, out, re.M):
            problems.append("no sent line in Postfix words")
        if "sent in clear text" not in out:
            problems.append("no word that it went in clear")
        if summary(err) != (1, 1, 0, 0):
            problems.append("summary %r" % (summary(err),))
        results = [report("address literal delivered to that address",
                          problems, "\n  stdout: %r\n  stderr: %r"
                          % (out[-800:], err[-600:]))]
        before = server.connections
        code, out, err = run_to_end(client, base + ["--tls-level",
                                                    "dane-only", rcpt])
        problems = []
        if code != EX_UNAVAILABLE:
            problems.append("exit %r, expected %d" % (code, EX_UNAVAILABLE))
        if server.connections != before:
            problems.append("connected anyway")
        if "no DANE" not in out:
            problems.append("no reason given")
        results.append(report("address literal under dane-only: refused",
                              problems, "\n  stdout: %r" % out[-600:]))
    finally:
        server.shutdown()
        server.server_close()
    return results


def check_empty_message(client, recorder):
    """An empty message is sent with a warning."""
    code, out, err = run_to_end(client, recorder.resolver_args() +
                                ["--timeout", "1", "-f", "s@sender.example",
                                 "--helo", "client.example", RCPT], stdin=b"")
    recorder.drain()
    problems = [] if "warning: the message is empty" in err else \
        ["no warning"]
    return report("empty message: warning", problems)


def no_control_bytes(out, err):
    """Option errors show what was typed escaped, never raw."""
    if any(ord(c) < 0x20 and c != "\n" for c in err):
        return "a control byte on stderr"
    return None


def main():
    """Runs every check; exit 0 only if all hold."""
    client = os.environ.get("MXCLIENT")
    if not client or not os.access(client, os.X_OK):
        print("FAIL: MXCLIENT=%r is not an executable" % client)
        return 1
    recorder = Recorder()
    with tempfile.TemporaryDirectory() as tmp:
        empty = os.path.join(tmp, "empty-rcpts")
        open(empty, "w").close()
        garbage = os.path.join(tmp, "garbage-anchor")
        with open(garbage, "w") as f:
            f.write("this is not a zone file\n")
        bad_ds = os.path.join(tmp, "bad-ds-anchor")
        with open(bad_ds, "w") as f:
            f.write(". IN DS 20326 8 2 zz-not-hex\n")
        anchor_cases = [
            ("trust anchor is a directory", tmp),
            ("trust anchor is not a regular file", "/dev/null"),
            ("trust anchor empty", empty),
            ("trust anchor without DS/DNSKEY", garbage),
            ("trust anchor that does not parse", bad_ds),
        ]
        resolver_cases = ["1.2.3", "192.0.2.1#0", "192.0.2.1#65536",
                          "192.0.2.1#", "resolver.example", "", "::1%",
                          "198.51.100.53#53x"]
        results = [
            # A file the user named that cannot be read: EX_NOINPUT.
            check_case(client, recorder, "trust anchor missing",
                       ["--trust-anchor", "/nonexistent/root.key", RCPT],
                       EX_NOINPUT, extra=one_stderr_line),
        ] + [
            check_case(client, recorder, name,
                       ["--trust-anchor", path, RCPT], EX_CONFIG,
                       extra=one_stderr_line)
            for name, path in anchor_cases
        ] + [
            check_case(client, recorder, "--dnssec resolver, remote resolver",
                       ["--dnssec", "resolver", "--resolver", "192.0.2.1",
                        RCPT], EX_CONFIG, extra=one_stderr_line),
            check_case(client, recorder, "--dnssec with a bad mode",
                       ["--dnssec", "remote", RCPT], EX_USAGE,
                       extra=one_stderr_line),
        ] + [
            check_case(client, recorder, "bad --resolver %r" % spec,
                       ["--resolver", spec, RCPT], EX_USAGE,
                       extra=one_stderr_line)
            for spec in resolver_cases
        ] + [
            check_case(client, recorder, "no recipients", [], EX_USAGE),
            check_case(client, recorder, "empty --rcpt-file, no recipients",
                       ["--rcpt-file", empty], EX_USAGE),
            check_case(client, recorder, "unknown option",
                       ["--bogus-option", RCPT], EX_USAGE),
            # Options come before recipients (sendmail's rule), so the
            # value-less option is the last argument and nothing follows.
            check_case(client, recorder, "option without its value",
                       ["--timeout"], EX_USAGE),
            check_case(client, recorder, "non-numeric --timeout",
                       ["--timeout", "soon", RCPT], EX_USAGE),
            check_case(client, recorder, "bad address a@@b",
                       ["a@@b"], EX_DATAERR,
                       extra=one_stderr_line_naming("a@@b")),
            check_case(client, recorder, "bad address among good ones",
                       [RCPT, "a@@b"], EX_DATAERR,
                       extra=lambda o, e: None if "a@@b" in e
                       else "stderr does not name a@@b"),
            check_case(client, recorder, "unreadable --rcpt-file",
                       ["--rcpt-file", "/nonexistent/rcpts", RCPT],
                       EX_NOINPUT),
            check_case(client, recorder, "NUL byte in the message",
                       [RCPT], EX_DATAERR,
                       stdin=b"Subject: nul\n\nbad \0 byte\n"),
            # CR LF in the EHLO name would inject a command.
            check_case(client, recorder, "--helo with CR LF",
                       ["--helo", "a\r\nRSET", RCPT], EX_USAGE,
                       extra=one_stderr_line_naming("--helo")),
            check_case(client, recorder, "--helo not a host name",
                       ["--helo", "bad name", RCPT], EX_USAGE),
            check_case(client, recorder, "--helo bad address literal",
                       ["--helo", "[192.0.2.300]", RCPT], EX_USAGE),
            # 60 deliveries in flight need ~250 descriptors; with 150 the
            # command lowers --jobs and says so (the NUL byte then stops
            # it before any lookup).
            check_case(client, recorder, "--jobs over the fd limit",
                       ["-j", "500"] + ["u%d@fd.example" % i
                                        for i in range(60)],
                       EX_DATAERR, stdin=b"Subject: nul\n\n\0\n",
                       fd_limit=150,
                       extra=lambda o, e: None
                       if "--jobs lowered from 60 to 9" in e
                       else "no warning that --jobs was lowered"),
            check_case(client, recorder, "--help", ["--help"], EX_OK,
                       extra=says_usage),
            check_case(client, recorder, "-h", ["-h"], EX_OK,
                       extra=says_usage),
            check_case(client, recorder, "--version", ["--version"], EX_OK,
                       extra=lambda o, e: None
                       if all(w in o for w in ("libevent ", "getdns ",
                                               "wolfSSL "))
                       else "--version does not name libevent, getdns "
                       "and wolfSSL"),
            check_case(client, recorder, "--json=yes: no raw bytes",
                       ["--json=yes", RCPT], EX_USAGE,
                       extra=lambda o, e: no_control_bytes(o, e) or
                       (None if "--json takes no value" in e
                        else "no word that --json takes no value")),
            check_case(client, recorder, "control bytes in an option",
                       ["--\x1b[2J", RCPT], EX_USAGE,
                       extra=lambda o, e: no_control_bytes(o, e) or
                       (None if "\\x1b" in e else "not escaped as \\x1b")),
            check_case(client, recorder, "option after a recipient",
                       [RCPT, "--json"], EX_USAGE,
                       extra=lambda o, e: None
                       if "options come before the recipients" in e
                       else "no hint that options come first"),
            # A proxy command that is not installed is no "try later".
            check_case(client, recorder, "proxy command not found",
                       ["--proxy-command", "/nonexistent/proxy %h %p", RCPT],
                       EX_UNAVAILABLE, extra=one_stderr_line),
            check_case(client, recorder, "proxy command not in $PATH",
                       ["--proxy-command", "no-such-proxy-cmd %h %p", RCPT],
                       EX_UNAVAILABLE, extra=one_stderr_line),
            check_case(client, recorder, "bad --proxy",
                       ["--proxy", "socks5://nowhere", RCPT],
                       EX_USAGE, extra=one_stderr_line),
            check_rcpt_files(client, recorder, tmp),
            check_many_rcpts(client, recorder, tmp),
            check_host_names(client, recorder, tmp),
        ] + check_output_errors(client, recorder) + \
            check_result_lines(client, recorder) + [
            check_live_progress(client, recorder),
            check_periodic_progress(client, recorder),
        ] + check_literal_delivery(client, recorder) + [
            check_empty_message(client, recorder),
        ]
    failed = results.count(False)
    print("cli_usage: %d of %d checks held" % (len(results) - failed,
                                              len(results)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
