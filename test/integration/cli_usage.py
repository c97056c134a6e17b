#!/usr/bin/env python3
"""Command-line errors of $MXCLIENT: exit codes, and that nothing else happens.

Needs no root and no lab.  The client is pointed at a "resolver" that is
only a UDP socket of this test: any datagram on it means the client went on
to look something up when it should have stopped at the command line.
"""

import os
import resource
import socket
import subprocess
import sys
import tempfile

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
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
            check_case(client, recorder, "--version", ["--version"], EX_OK,
                       extra=says_version),
        ]
    failed = results.count(False)
    print("cli_usage: %d of %d checks held" % (len(results) - failed,
                                              len(results)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
