#!/usr/bin/env python3
"""A logging SOCKS5 front for the lab: passes everything on, notes requests.

    socks_front.py --listen ADDR --port N --upstream ADDR:PORT --log FILE

It sits between the client under test and a real SOCKS5 proxy and relays
every byte unchanged, but parses the client's side of the negotiation on
the way (RFC 1928 greeting, RFC 1929 sub-negotiation, the request) and the
proxy's answers, and appends one JSON object a line to FILE:

    {"conn": 1, "event": "request", "cmd": 1, "atyp": 1,
     "host": "192.0.2.10", "port": 25, "time": ...}
    {"conn": 1, "event": "reply", "rep": 0, "time": ...}

atyp 1 is IPv4, 4 IPv6, 3 a DNS name (which the client must never send).
The upstream connection is made only after the client's greeting, so a
readiness probe (connect and close) never reaches the proxy.  Runs until
SIGTERM.  Python standard library only.
"""

import argparse
import ipaddress
import signal
import socket
import socketserver
import sys
import os
import threading


# The lab's transcript writer (one JSON event a line, flushed at once),
# shared with the scripted SMTP server.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lab"))
from scripted_smtp import Transcript  # noqa: E402


class Closed(Exception):
    """One side closed before a complete SOCKS message."""


def read_exact(sock, n):
    """Exactly n bytes from sock, or Closed."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise Closed()
        buf += chunk
    return buf


def pump(src, dst):
    """Copies src to dst until EOF, then half-closes dst."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


class Handler(socketserver.BaseRequestHandler):
    """One client connection: negotiation relayed and parsed, then a pipe."""

    def handle(self):
        log = self.server.log
        conn = log.new_connection()
        client = self.request
        try:
            self.negotiate(log, conn, client)
        except (Closed, OSError) as e:
            log.write(conn, "closed", why=str(e) or type(e).__name__)

    def negotiate(self, log, conn, client):
        """Relays greeting, authentication and request, logging them."""
        try:
            greeting = read_exact(client, 2)
            greeting += read_exact(client, greeting[1])
        except Closed:
            return   # a readiness probe: connected and closed
        up = socket.create_connection(self.server.upstream, timeout=None)
        try:
            up.sendall(greeting)
            choice = read_exact(up, 2)
            client.sendall(choice)
            log.write(conn, "method", offered=list(greeting[2:]),
                      chosen=choice[1])
            if choice[1] == 0x02:
                head = read_exact(client, 2)
                user = read_exact(client, head[1])
                plen = read_exact(client, 1)
                password = read_exact(client, plen[0])
                up.sendall(head + user + plen + password)
                status = read_exact(up, 2)
                client.sendall(status)
                log.write(conn, "auth", user=user.decode("latin-1"),
                          status=status[1])
            head = read_exact(client, 4)
            atyp = head[3]
            if atyp == 1:
                raw = read_exact(client, 4)
                host = str(ipaddress.IPv4Address(raw))
            elif atyp == 4:
                raw = read_exact(client, 16)
                host = str(ipaddress.IPv6Address(raw))
            elif atyp == 3:
                ln = read_exact(client, 1)
                raw = ln + read_exact(client, ln[0])
                host = raw[1:].decode("latin-1")
            else:
                log.write(conn, "request", cmd=head[1], atyp=atyp, host=None,
                          port=None)
                return
            port_raw = read_exact(client, 2)
            port = int.from_bytes(port_raw, "big")
            log.write(conn, "request", cmd=head[1], atyp=atyp, host=host,
                      port=port)
            up.sendall(head + raw + port_raw)
            reply = read_exact(up, 4)
            size = {1: 4, 4: 16}.get(reply[3])
            if size is None:
                ln = read_exact(up, 1)
                rest = ln + read_exact(up, ln[0] + 2)
            else:
                rest = read_exact(up, size + 2)
            client.sendall(reply + rest)
            log.write(conn, "reply", rep=reply[1])
            if reply[1] != 0:
                return
            other = threading.Thread(target=pump, args=(up, client),
                                     daemon=True)
            other.start()
            pump(client, up)
            other.join()
        finally:
            up.close()


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """The listening front; one thread per connection."""
    daemon_threads = True
    allow_reuse_address = True


def main():
    """Parses arguments, listens, says READY, serves until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="ADDR:PORT")
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    if ":" in args.listen:
        Server.address_family = socket.AF_INET6
    server = Server((args.listen, args.port), Handler)
    server.log = Transcript(args.log)
    server.upstream = (host.strip("[]"), int(port))
    open(args.log, "a").close()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("READY", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
