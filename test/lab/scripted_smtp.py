#!/usr/bin/env python3
"""A scripted, possibly misbehaving SMTP server for the lab.

Run as a child process inside a lab namespace:

    scripted_smtp.py --listen ADDR --port N --script FILE.json --transcript FILE

It answers every stage from a JSON script (see DEFAULT_SCRIPT for the keys)
and appends what happens to a transcript file, one JSON object a line, so a
test case can see exactly what the client sent.  A reply is the literal reply
text (lines separated by "\\n", so "250-a\\n250 b" is a multi-line reply), or
"close" (drop the connection at that point), or "never" (stay silent until
the client gives up).  A list gives the replies for the first, second, ...
use of that stage; the last one repeats.

It prints "READY" on stdout once it listens, and runs until SIGTERM.
Python standard library only.
"""

import argparse
import copy
import json
import select
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time

# The well-behaved server: a case overrides only the stage it is about.
DEFAULT_SCRIPT = {
    "name": "scripted.lab",
    "greeting": "220 {name} ESMTP lab",
    "ehlo": "250-{name}\n250-8BITMIME\n250 SIZE 100000000",
    "helo": "250 {name}",
    "starttls": "454 4.7.0 TLS not available",
    "mail": "250 2.1.0 Ok",
    "rcpt": "250 2.1.5 Ok",
    "data": "354 End data with <CR><LF>.<CR><LF>",
    "eod": "250 2.0.0 Ok: queued",
    "rset": "250 2.0.0 Ok",
    "noop": "250 2.0.0 Ok",
    "quit": "221 2.0.0 Bye",
    "unknown": "502 5.5.2 Error: command not recognized",
    # Seconds to wait before answering a stage, e.g. {"greeting": 2}.
    "delay": {},
    # With "tls": true, EHLO offers STARTTLS, STARTTLS is answered 220 and the
    # connection is upgraded with --cert/--key (--cert may hold a chain);
    # the transcript's "tls" event has the version and the client's SNI.
    "tls": False,
    # What follows a 220 to STARTTLS: "ok" (the TLS handshake), "close"
    # (drop the connection), "garbage" (a plaintext line, no handshake),
    # "alert" (a fatal TLS handshake_failure alert instead of a ServerHello).
    "tls_handshake": "ok",
    # With "quiet": true only "connect", "close" and "data" (without the
    # body) events go to the transcript: a sink for thousands of deliveries (resource bounds)
    # that would otherwise spend its time appending lines.
    "quiet": False,
    # With "pipelining": true, EHLO offers PIPELINING (RFC 2920) and the
    # server groups its replies as Postfix's smtpd does: a reply to MAIL,
    # RCPT or RSET is held while more commands are already there (or come
    # within "pipelining_wait" seconds), and goes out in one write with the
    # replies after it; the transcript's "flush" event says how many
    # replies each write carried.
    "pipelining": False,
    "pipelining_wait": 0.5,
}

def trickle():
    """A reply line that never ends: one byte every 0.2 s."""
    yield b"250 ", 0.2
    while True:
        yield b"x", 0.2


def endless():
    """Continuation lines without end, a little at a time."""
    while True:
        yield b"250-more\r\n" * 8, 0.01


def huge():
    """One megabyte of a single line, no line feed, then silence."""
    for _ in range(64):
        yield b"250 " + b"y" * 16380, 0


# The hostile answers that are streams of bytes.
HOSTILE_STREAMS = {"trickle": trickle, "endless": endless, "huge": huge}

# SMTP verbs and the script stage that answers them.
VERB_STAGE = {
    "EHLO": "ehlo", "HELO": "helo", "STARTTLS": "starttls", "MAIL": "mail",
    "RCPT": "rcpt", "DATA": "data", "RSET": "rset", "NOOP": "noop",
    "QUIT": "quit",
}

# Longest line accepted, so a broken client cannot exhaust memory.
MAX_LINE = 1 << 20


class Transcript:
    """Appends events to the transcript file; shared by all connections."""

    def __init__(self, path, quiet=False):
        self.path = path
        self.lock = threading.Lock()
        self.next_conn = 1
        self.quiet = quiet

    def new_connection(self):
        """Hands out connection numbers so events can be grouped."""
        with self.lock:
            conn = self.next_conn
            self.next_conn += 1
            return conn

    def write(self, conn, event, **fields):
        """Writes one event at once (flushed) so a case can read it mid-run."""
        if self.quiet and event not in ("connect", "close", "data"):
            return
        if self.quiet:
            fields.pop("body", None)  # counted, not kept
        record = {"conn": conn, "event": event, "time": time.time()}
        record.update(fields)
        with self.lock:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")


class Dropped(Exception):
    """The script (or the client) ended the connection."""


class LineReader:
    """Buffered reading from a socket that can tell whether input is
    already waiting (what grouping replies needs; a file object cannot)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self):
        """One recv into the buffer; False at EOF."""
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def readline(self, limit):
        """A line with its ending, b"" at EOF (or what came before it)."""
        while True:
            at = self.buf.find(b"\n")
            if at >= 0 or len(self.buf) >= limit:
                end = at + 1 if at >= 0 else limit
                line = bytes(self.buf[:end])
                del self.buf[:end]
                return line
            if not self._fill():
                line = bytes(self.buf)
                self.buf.clear()
                return line

    def waiting(self, timeout):
        """Whether input is there, or comes within `timeout` seconds."""
        if self.buf:
            return True
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        ready, _, _ = select.select([self.sock], [], [], timeout)
        return bool(ready)

    def close(self):
        """Nothing to release: the socket is the session's."""
        self.buf.clear()


class Session:
    """One SMTP connection driven by the script."""

    def __init__(self, sock, server):
        self.sock = sock
        self.script = server.script
        self.transcript = server.transcript
        self.tls_context = server.tls_context
        self.in_tls = False    # STARTTLS is offered only before TLS
        self.conn = self.transcript.new_connection()
        self.uses = {}
        self.reader = LineReader(sock)
        self.held = b""        # replies held back to go out together
        self.nheld = 0

    def reply_for(self, stage):
        """Picks the reply for the n-th use of a stage (lists advance)."""
        value = self.script[stage]
        n = self.uses.get(stage, 0)
        self.uses[stage] = n + 1
        if isinstance(value, list):
            value = value[min(n, len(value) - 1)]
        return value

    def answer(self, stage):
        """Sends the scripted reply for a stage; returns the reply code."""
        delay = self.script["delay"].get(stage, 0)
        if delay:
            time.sleep(delay)
        text = self.reply_for(stage)
        if text in ("close", "never", "reset") or text in HOSTILE_STREAMS:
            self.flush()
        if text == "close":
            self.transcript.write(self.conn, "drop", stage=stage)
            raise Dropped()
        if text == "never":
            self.transcript.write(self.conn, "silent", stage=stage)
            self.wait_for_close()
            raise Dropped()
        if text == "reset":
            self.transcript.write(self.conn, "drop", stage=stage)
            # Linger 0: close() sends an RST instead of a FIN.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
            raise Dropped()
        if text in HOSTILE_STREAMS:
            self.transcript.write(self.conn, "silent", stage=stage,
                                  hostile=text)
            self.stream_until_closed(HOSTILE_STREAMS[text])
            raise Dropped()
        text = text.replace("{name}", self.script["name"])
        if stage == "ehlo" and self.script["tls"] and not self.in_tls:
            text = offer_starttls(text)
        if stage == "ehlo" and self.script["pipelining"]:
            text = offer_keyword(text, "PIPELINING")
        # All lines in one write, as a real server would send them (and so
        # that extra lines stuck to a reply arrive in the same segment).
        wire = b""
        for line in text.split("\n"):
            self.transcript.write(self.conn, "send", line=line)
            wire += line.encode("utf-8", "surrogateescape") + b"\r\n"
        self.held += wire
        self.nheld += 1
        if not (self.script["pipelining"] and
                stage in ("mail", "rcpt", "rset") and
                self.reader.waiting(self.script["pipelining_wait"])):
            self.flush()
        return text[:3]

    def flush(self):
        """Sends the replies held back, in one write."""
        if not self.nheld:
            return
        self.transcript.write(self.conn, "flush", replies=self.nheld)
        self.sock.sendall(self.held)
        self.held = b""
        self.nheld = 0

    def stream_until_closed(self, chunks):
        """Sends (bytes, pause) pieces from a generator until the client
        closes the connection or the generator ends, then waits for the
        close: what a hostile server does to a client's deadlines."""
        try:
            for data, pause in chunks():
                self.sock.sendall(data)
                if pause:
                    time.sleep(pause)
        except OSError:
            return
        self.wait_for_close()

    def wait_for_close(self):
        """Holds a silent connection open until the client closes it."""
        try:
            while self.sock.recv(4096):
                pass
        except OSError:
            pass

    def read_line(self):
        """Reads one line (bytes, ending removed); Dropped on EOF."""
        line = self.reader.readline(MAX_LINE)
        if not line:
            self.transcript.write(self.conn, "eof")
            raise Dropped()
        return line.rstrip(b"\r\n")

    def read_data(self):
        """Reads the message up to the lone dot, exactly as sent on the wire."""
        body = bytearray()
        while True:
            line = self.reader.readline(MAX_LINE)
            if not line:
                self.transcript.write(self.conn, "eof", stage="data",
                                      partial=body.decode("utf-8", "replace"))
                raise Dropped()
            if line == b".\r\n":
                break
            body += line
        self.transcript.write(self.conn, "data", size=len(body),
                              body=body.decode("utf-8", "surrogateescape"))

    def start_tls(self):
        """Upgrades the connection after a 220 to STARTTLS (or breaks it,
        as the script's tls_handshake says)."""
        how = self.script["tls_handshake"]
        if how == "close":
            self.transcript.write(self.conn, "drop", stage="tls")
            raise Dropped()
        if how == "alert":
            self.transcript.write(self.conn, "send", line="(TLS alert)")
            # A TLS record: alert, TLS 1.2, length 2, fatal
            # handshake_failure.
            self.sock.sendall(b"\x15\x03\x03\x00\x02\x02\x28")
            self.wait_for_close()
            raise Dropped()
        if how == "garbage":
            self.transcript.write(self.conn, "send", line="(not TLS)")
            self.sock.sendall(b"this is not a TLS ServerHello\r\n")
            self.wait_for_close()
            raise Dropped()
        self.reader.close()
        self.sock = self.tls_context.wrap_socket(self.sock, server_side=True)
        self.reader = LineReader(self.sock)
        self.in_tls = True
        self.transcript.write(self.conn, "tls", version=self.sock.version(),
                              sni=getattr(self.sock, "lab_sni", None))

    def run(self):
        """The dialogue: greeting, then one scripted answer per command."""
        self.transcript.write(self.conn, "connect",
                              peer=self.sock.getpeername()[0])
        try:
            self.answer("greeting")
            while True:
                raw = self.read_line()
                line = raw.decode("utf-8", "surrogateescape")
                # "queued": the client's next bytes were already here,
                # sent before this command's reply (pipelined).
                self.transcript.write(self.conn, "recv", line=line,
                                      queued=self.reader.waiting(0))
                verb = line.split(" ", 1)[0].split(":", 1)[0].upper()
                stage = VERB_STAGE.get(verb, "unknown")
                code = self.answer(stage)
                if stage == "data" and code == "354":
                    self.read_data()
                    self.answer("eod")
                elif stage == "starttls" and code == "220" and \
                        self.script["tls"]:
                    self.start_tls()
                elif stage == "quit":
                    break
        except Dropped:
            pass
        except (OSError, ssl.SSLError) as e:
            self.transcript.write(self.conn, "error", error=str(e))
        finally:
            self.transcript.write(self.conn, "close")
            try:
                self.sock.close()
            except OSError:
                pass


def offer_keyword(ehlo_reply, keyword):
    """Adds a keyword line at the end of an EHLO reply."""
    lines = [l[:3] + "-" + l[4:] for l in ehlo_reply.split("\n")]
    code = lines[0][:3]
    return "\n".join(lines + [code + " " + keyword])


def offer_starttls(ehlo_reply):
    """Adds a STARTTLS line to an EHLO reply (before its last line)."""
    lines = ehlo_reply.split("\n")
    last = lines[-1]
    code = last[:3]
    lines = [l[:3] + "-" + l[4:] for l in lines]
    lines.insert(len(lines) - 1, code + "-STARTTLS")
    lines[-1] = code + " " + last[4:]
    return "\n".join(lines)


class Handler(socketserver.BaseRequestHandler):
    """Runs one Session per accepted connection."""

    def handle(self):
        """socketserver's hook: one thread per connection."""
        Session(self.request, self.server).run()


class Server(socketserver.ThreadingTCPServer):
    """Thread-per-connection server bound to one address and port."""

    allow_reuse_address = True
    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of 50 connects
    # (lab-resource-bounds) overflowed it, and a client whose handshake
    # ACK the kernel dropped thought itself connected while the server
    # accepted it only a minute later, after the client had given up.
    request_queue_size = 128


def load_script(path):
    """Merges the case's script over the well-behaved default."""
    script = copy.deepcopy(DEFAULT_SCRIPT)
    overrides = {}
    if path:
        with open(path, encoding="utf-8") as f:
            overrides = json.load(f)
    script.update(overrides)
    if script["tls"] and "starttls" not in overrides:
        script["starttls"] = "220 2.0.0 Ready to start TLS"
    unknown = set(script) - set(DEFAULT_SCRIPT)
    if unknown:
        raise SystemExit("scripted_smtp: unknown script keys: %s"
                         % ", ".join(sorted(unknown)))
    return script


def remember_sni(sock, server_name, context):
    """Keeps the client's SNI (None without one) for the transcript."""
    sock.lab_sni = server_name


def main():
    """Parses arguments, listens, says READY, serves until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True, help="IPv4 or IPv6 address")
    parser.add_argument("--port", type=int, default=25)
    parser.add_argument("--script", help="JSON file of stage replies")
    parser.add_argument("--transcript", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()

    script = load_script(args.script)
    if ":" in args.listen:
        Server.address_family = socket.AF_INET6
    server = Server((args.listen, args.port), Handler)
    server.script = script
    server.transcript = Transcript(args.transcript, script["quiet"])
    server.tls_context = None
    if script["tls"]:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        ctx.sni_callback = remember_sni
        server.tls_context = ctx

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("READY", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
