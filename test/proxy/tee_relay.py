#!/usr/bin/env python3
"""A proxy command for the lab that relays a connection and logs its bytes.

    tee_relay.py [--bind ADDR] LOGPREFIX HOST PORT [NAME]

mxclient runs it per connection attempt as `--proxy-command 'python3
tee_relay.py PREFIX %h %p %n'`: stdin/stdout are the client's side of the
stream, HOST:PORT the MX.  Every byte carried is appended, unchanged, to
PREFIX-PID-up.bin (client to MX) and PREFIX-PID-down.bin (MX to client), so
a case can read exactly what an observer on the path saw.  PREFIX-PID.json
says where it connected (and the MX NAME, if given).

It says on stderr where it connects, which mxclient shows as a progress
line.  It exits when both directions have ended.  Python standard library
only.
"""

import argparse
import json
import os
import selectors
import socket
import sys


def open_logs(prefix, meta):
    """The two byte logs of this relay, plus its metadata file."""
    base = "%s-%d" % (prefix, os.getpid())
    with open(base + ".json", "w", encoding="utf-8") as f:
        json.dump(meta, f)
    return open(base + "-up.bin", "wb"), open(base + "-down.bin", "wb")


def connect(host, port, bind):
    """The TCP connection to the MX, from `bind` if given."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if bind:
        sock.bind((bind, 0))
    sock.connect((host, port))
    return sock


def end_output(fd):
    """Tells the client side we are done sending: a shutdown if stdout is
    a socket (the socketpair mxclient made), else a close."""
    try:
        s = socket.socket(fileno=os.dup(fd))
        try:
            s.shutdown(socket.SHUT_WR)
        finally:
            s.close()
    except OSError:
        os.close(fd)


def relay(sock, up_log, down_log):
    """Copies stdin to the socket and the socket to stdout until both ends
    have said EOF, logging each chunk before it is passed on."""
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ, "up")
    sel.register(sock, selectors.EVENT_READ, "down")
    open_dirs = {"up", "down"}
    while open_dirs:
        for key, _ in sel.select():
            if key.data == "up":
                data = os.read(0, 65536)
                if not data:
                    sel.unregister(0)
                    open_dirs.discard("up")
                    try:
                        sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                up_log.write(data)
                up_log.flush()
                sock.sendall(data)
            else:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    sel.unregister(sock)
                    open_dirs.discard("down")
                    end_output(1)
                    continue
                down_log.write(data)
                down_log.flush()
                view = memoryview(data)
                while view:
                    view = view[os.write(1, view):]


def main():
    """Parses arguments, connects, relays; exit 1 if the MX is unreachable."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bind", help="source address toward the MX")
    parser.add_argument("prefix")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("name", nargs="?")
    args = parser.parse_args()
    meta = {"pid": os.getpid(), "host": args.host, "port": args.port,
            "name": args.name}
    up_log, down_log = open_logs(args.prefix, meta)
    print("tee_relay: connecting to %s port %d" % (args.host, args.port),
          file=sys.stderr, flush=True)
    try:
        sock = connect(args.host, args.port, args.bind)
    except OSError as e:
        print("tee_relay: cannot connect: %s" % e, file=sys.stderr,
              flush=True)
        return 1
    try:
        relay(sock, up_log, down_log)
    except (BrokenPipeError, ConnectionResetError) as e:
        print("tee_relay: %s" % e, file=sys.stderr, flush=True)
        return 1
    finally:
        sock.close()
        up_log.close()
        down_log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
