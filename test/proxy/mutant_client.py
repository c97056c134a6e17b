#!/usr/bin/env python3
"""A deliberately misbehaving client, to show the proxy cases can fail.

    MXC_REAL_CLIENT=build/cli/mxclient MXC_MUTANT=MODE \\
    MXCLIENT=test/proxy/mutant_client.py python3 test/proxy/proxy_case.py CASE

Every proxy case should FAIL under every mode that touches what it checks:

  direct   drops --proxy / --proxy-command and connects directly (a client
           that ignores its proxy: delivers where it must not, and no proxy
           or relay ever sees the connection)
  orphan   runs each proxy command through a wrapper that leaves it behind
           as an orphan (a client that does not see its children out)
  nodane   drops --proxy / --proxy-command and adds --tls-level may (no
           DANE verdict)

Not a test by itself and not registered with meson.
"""

import os
import sys


def strip_proxy(argv):
    """The arguments without any proxy option."""
    out = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--proxy", "--proxy-command"):
            skip = True
            continue
        if a.startswith(("--proxy=", "--proxy-command=")):
            continue
        out.append(a)
    return out


def orphan_commands(argv):
    """Each --proxy-command wrapped so the real command is a grandchild
    the client never knew (its own child exits at once)."""
    out = list(argv)
    for i, a in enumerate(out[:-1]):
        if a == "--proxy-command":
            out[i + 1] = "%s %s --orphan %s" % (sys.executable,
                                                os.path.abspath(__file__),
                                                out[i + 1])
    return out


def run_orphan(words):
    """--orphan CMD...: fork; the child runs CMD (keeping stdin/stdout, so
    the stream still works) and the parent exits at once, leaving CMD
    reparented to the namespace's init, out of the client's sight."""
    if os.fork() == 0:
        os.setsid()
        os.execvp(words[0], words)
    os._exit(0)


def main():
    """Rewrites the arguments per MXC_MUTANT and execs the real client."""
    if len(sys.argv) > 1 and sys.argv[1] == "--orphan":
        return run_orphan(sys.argv[2:])
    real = os.environ["MXC_REAL_CLIENT"]
    mode = os.environ.get("MXC_MUTANT", "direct")
    argv = sys.argv[1:]
    if mode == "direct":
        argv = strip_proxy(argv)
    elif mode == "nodane":
        argv = ["--tls-level", "may"] + strip_proxy(argv)
    elif mode == "orphan":
        argv = orphan_commands(argv)
    else:
        sys.exit("mutant_client: unknown MXC_MUTANT %r" % mode)
    os.execv(real, [real] + argv)
    return 1


if __name__ == "__main__":
    sys.exit(main())
