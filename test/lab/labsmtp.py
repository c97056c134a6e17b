"""The case's handle on a scripted SMTP server (scripted_smtp.py).

Starts the server program as a child, waits for it to listen, and reads its
transcript back as connections: what the client sent, what was answered,
the message bodies, and how each connection ended.
"""

import json
import os
import select
import subprocess
import sys
import time

SERVER_PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "scripted_smtp.py")


class Connection:
    """What happened on one connection to a scripted server."""

    def __init__(self, number):
        self.number = number
        self.peer = None
        self.received = []     # command lines from the client, in order
        self.sent = []         # reply lines sent, in order
        self.bodies = []       # DATA bodies exactly as on the wire (str)
        self.tls = None        # TLS version if STARTTLS was done
        self.sni = None        # the server name the client sent in TLS
        self.ended_by = None   # "drop" (script), "eof" (client), "close"...
        self.queued = []       # received lines the client sent before the
                               # reply to the one before (pipelined)
        self.writes = []       # replies in each write (grouped when
                               # the script's "pipelining" is on)
        self.events = []

    def commands(self, verb):
        """The received lines that start with an SMTP verb, e.g. "RCPT"."""
        verb = verb.upper()
        return [l for l in self.received if l.upper().startswith(verb)]


class ScriptedServer:
    """One scripted SMTP server process inside the lab."""

    def __init__(self, workdir, address, script=None, port=25, cert=None):
        self.address = address
        self.port = port
        self.script = dict(script or {})
        tag = "%s-%d" % (address.replace(":", "_"), port)
        self.script_path = os.path.join(workdir, "script-%s.json" % tag)
        self.transcript_path = os.path.join(workdir, "transcript-%s.jsonl" % tag)
        self.log_path = os.path.join(workdir, "scripted-%s.log" % tag)
        self.cert = cert
        self.process = None

    def start(self, timeout=5):
        """Starts the server and waits for its READY line."""
        with open(self.script_path, "w", encoding="utf-8") as f:
            json.dump(self.script, f)
        open(self.transcript_path, "w").close()
        cmd = [sys.executable, SERVER_PROGRAM, "--listen", self.address,
               "--port", str(self.port), "--script", self.script_path,
               "--transcript", self.transcript_path]
        if self.cert:
            cmd += ["--cert", self.cert[0], "--key", self.cert[1]]
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                        stderr=log, text=True)
        log.close()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if line.strip() != "READY":
            self.stop()
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                err = f.read().strip()
            raise RuntimeError("scripted server %s:%d did not start: %s"
                               % (self.address, self.port, err or "no output"))

    def stop(self):
        """Stops the server by its pid."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stdout:
            self.process.stdout.close()

    def connections(self, settle=0.2):
        """The transcript grouped by connection.

        Waits up to `settle` seconds for open connections to be closed, so a
        case that looks right after the client exits sees the whole story.
        """
        deadline = time.monotonic() + settle
        while True:
            conns = self.read_transcript()
            if all(c.ended_by for c in conns) or time.monotonic() > deadline:
                return conns
            time.sleep(0.02)

    def connection_count(self):
        """Connections the server accepted (cheap: also for a "quiet"
        server, whose transcript holds only connects and closes)."""
        with open(self.transcript_path, encoding="utf-8") as f:
            return sum(1 for line in f if '"event": "connect"' in line)

    def message_count(self):
        """Messages the server read to the final dot (also for a "quiet"
        server)."""
        with open(self.transcript_path, encoding="utf-8") as f:
            return sum(1 for line in f if '"event": "data"' in line)

    def read_transcript(self):
        """Parses the transcript file into Connection objects."""
        conns = {}
        with open(self.transcript_path, encoding="utf-8") as f:
            for line in f:
                ev = json.loads(line)
                c = conns.setdefault(ev["conn"], Connection(ev["conn"]))
                c.events.append(ev)
                kind = ev["event"]
                if kind == "connect":
                    c.peer = ev["peer"]
                elif kind == "recv":
                    c.received.append(ev["line"])
                    if ev.get("queued"):
                        c.queued.append(ev["line"])
                elif kind == "flush":
                    c.writes.append(ev["replies"])
                elif kind == "send":
                    c.sent.append(ev["line"])
                elif kind == "data":
                    c.bodies.append(ev.get("body", ""))  # quiet: none
                elif kind == "tls":
                    c.tls = ev["version"]
                    c.sni = ev.get("sni")
                elif kind in ("drop", "eof", "error", "silent"):
                    c.ended_by = c.ended_by or kind
                elif kind == "close":
                    c.ended_by = c.ended_by or "close"
        return [conns[k] for k in sorted(conns)]

    def describe(self):
        """The transcript as text, for a failing case's diagnostics."""
        out = ["scripted server %s port %d, script %s"
               % (self.address, self.port, json.dumps(self.script))]
        try:
            conns = self.read_transcript()
        except (OSError, ValueError) as e:
            return "\n".join(out + ["  (transcript unreadable: %s)" % e])
        if not conns:
            out.append("  (no connections)")
        for c in conns:
            out.append("  connection %d from %s" % (c.number, c.peer))
            for ev in c.events:
                if ev["event"] == "recv":
                    out.append("    C: " + ev["line"][:200])
                elif ev["event"] == "send":
                    out.append("    S: " + ev["line"][:200])
                elif ev["event"] == "data":
                    out.append("    (message, %d bytes)" % ev["size"])
                elif ev["event"] == "tls":
                    out.append("    [tls %s, SNI %r]" % (ev.get("version"),
                                                      ev.get("sni")))
                elif ev["event"] not in ("connect",):
                    out.append("    [%s]" % ev["event"])
        return "\n".join(out)
