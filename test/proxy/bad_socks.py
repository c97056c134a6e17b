#!/usr/bin/env python3
"""A misbehaving SOCKS5 proxy for the lab: one bad habit per port.

    bad_socks.py --listen ADDR --mode MODE=PORT [--mode MODE=PORT ...]
                 --log FILE

Modes (what the client sees after its greeting, RFC 1928):
  garbage      an HTTP error page instead of a method choice, then silence
  version      a method choice with version 4 instead of 5, then silence
  error        a proper method choice, then a CONNECT reply with code 2
               ("connection not allowed by ruleset")
  close        the connection closed right after the client's greeting
  trickle      method choice and a CONNECT reply naming a 255-byte domain,
               one byte a second (the reply would take 4 minutes)
  silent       a proper method choice, then nothing ever after CONNECT

It never connects anywhere.  Every connection is logged to FILE (one JSON
object a line: conn, mode, event, bytes received) so a case can see the
client got as far as the mode needs.  Prints READY once it listens on
every port; runs until SIGTERM.  Python standard library only.
"""

import argparse
import os
import signal
import socket
import socketserver
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lab"))
from scripted_smtp import Transcript  # noqa: E402

MODES = ("garbage", "version", "error", "close", "trickle", "silent")


def read_greeting(sock):
    """The client's greeting (VER NMETHODS METHODS), or None at EOF."""
    data = b""
    while len(data) < 2 or len(data) < 2 + data[1]:
        chunk = sock.recv(64)
        if not chunk:
            return None
        data += chunk
    return data


def hold(sock):
    """Keeps the connection open, reading and dropping, until EOF."""
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass


def behave(mode, sock, log, conn):
    """Plays one mode on one accepted connection."""
    greeting = read_greeting(sock)
    if greeting is None:
        log.write(conn, "eof", mode=mode)
        return
    log.write(conn, "greeting", mode=mode, data=greeting.hex())
    if mode == "close":
        return
    if mode == "garbage":
        sock.sendall(b"HTTP/1.0 400 Bad Request\r\nServer: lab\r\n\r\n")
        hold(sock)
        return
    if mode == "version":
        sock.sendall(b"\x04\x00")
        hold(sock)
        return
    if mode == "trickle":
        # Method choice, then a CONNECT reply whose bound address is a
        # 255-byte name, each byte a second apart.
        reply = b"\x05\x00" + b"\x05\x00\x00\x03\xff" + b"n" * 255 + b"\x00\x19"
        for i, byte in enumerate(reply):
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                log.write(conn, "gone", mode=mode, sent=i)
                return
            time.sleep(1)
        hold(sock)
        return
    sock.sendall(b"\x05\x00")
    request = sock.recv(300)
    log.write(conn, "request", mode=mode, data=request.hex())
    if mode == "error":
        sock.sendall(b"\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00")
        hold(sock)
        return
    hold(sock)   # silent


def handler_for(mode):
    """A socketserver handler class playing `mode`."""
    class Handler(socketserver.BaseRequestHandler):
        """One connection in this port's mode."""

        def handle(self):
            """socketserver's hook: one thread per connection."""
            log = self.server.log
            conn = log.new_connection()
            try:
                behave(mode, self.request, log, conn)
            except OSError as e:
                log.write(conn, "error", mode=mode, error=str(e))
            log.write(conn, "close", mode=mode)
    return Handler


class Server(socketserver.ThreadingTCPServer):
    """Thread-per-connection listener for one mode."""
    allow_reuse_address = True
    daemon_threads = True


def main():
    """Parses arguments, listens on every port, says READY, serves."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--mode", action="append", required=True,
                        help="MODE=PORT")
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    log = Transcript(args.log)
    open(args.log, "a").close()
    for spec in args.mode:
        mode, _, port = spec.partition("=")
        if mode not in MODES:
            raise SystemExit("bad_socks: unknown mode %r" % mode)
        server = Server((args.listen, int(port)), handler_for(mode))
        server.log = log
        threading.Thread(target=server.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("READY", flush=True)
    signal.pause()


if __name__ == "__main__":
    main()
