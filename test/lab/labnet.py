"""The lab's network: a private namespace, its addresses, its firewall.

Every lab case runs in its own anonymous network namespace (and PID
namespace), made by re-executing the case under unshare(1).  Nothing in it
can reach or be reached from the machine's real network, it vanishes with its
last process, and cases can run in parallel because each one has its own
198.51.100.53 and its own port 25.

Only documentation addresses are used (RFC 5737, RFC 3849).
"""

import ipaddress
import os
import shutil
import subprocess
import sys

# Set in the environment of the re-executed process, so it knows it is inside.
INSIDE_ENV = "MXC_LAB_IN_NETNS"

# The only networks the lab may put on its interfaces or send traffic to.
DOC_NETWORKS = [ipaddress.ip_network(n) for n in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]

SKIP_MESSAGE = "SKIP: lab tests need root (network namespaces)"
EXIT_SKIP = 77


def can_make_namespaces():
    """Tells whether this process could run a lab case (root and unshare)."""
    return os.geteuid() == 0 and shutil.which("unshare") is not None


def inside_namespace():
    """Tells whether we already are the re-executed process in the lab."""
    return os.environ.get(INSIDE_ENV) == "1"


def reexec_in_namespace(argv):
    """Replaces this process with itself under unshare, in fresh namespaces.

    --net gives the private network; --pid --fork --mount-proc make the case
    PID 1 of its own PID namespace, so every daemon it starts (even one that
    double-forks, like Postfix's master) is killed by the kernel when the
    case ends, whatever way it ends; --kill-child does the same when unshare
    itself is killed (a meson timeout).
    """
    env = dict(os.environ)
    env[INSIDE_ENV] = "1"
    cmd = ["unshare", "--net", "--pid", "--fork", "--mount-proc",
           "--kill-child", sys.executable] + argv
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe("unshare", cmd, env)


def check_documentation_address(addr):
    """Refuses any address outside the documentation ranges (a lab bug)."""
    ip = ipaddress.ip_address(addr)
    if not any(ip in net for net in DOC_NETWORKS):
        raise ValueError("lab address %s is not a documentation address" % addr)
    return ip


def bring_up_loopback():
    """lo starts down in a new namespace; nothing works until it is up."""
    run(["ip", "link", "set", "lo", "up"])


def add_addresses(addrs):
    """Puts addresses on lo: IPv4 as /32, IPv6 as /128 without DAD.

    Without `nodad` an IPv6 address stays "tentative" for a second or two and
    cannot be bound.  All addresses go in one `ip -batch` call.
    """
    lines = []
    for addr in sorted(set(addrs)):
        ip = check_documentation_address(addr)
        if ip.version == 4:
            lines.append("addr add %s/32 dev lo" % ip)
        else:
            lines.append("addr add %s/128 dev lo nodad" % ip)
    if lines:
        run(["ip", "-batch", "-"], "\n".join(lines) + "\n")


def blackhole(addrs, port=25):
    """Makes SYNs to addr:port vanish, as if the host were unreachable.

    The addresses are on lo, so the packets only pass the output hook before
    they would be delivered locally: a drop there leaves connect() hanging
    until the client's own timeout, which is what happy eyeballs must race.
    """
    rules = []
    for addr in addrs:
        ip = check_documentation_address(addr)
        family = "ip" if ip.version == 4 else "ip6"
        rules.append("    %s daddr %s tcp dport %d drop" % (family, ip, port))
    ruleset = ("table inet lab {\n"
               "  chain output {\n"
               "    type filter hook output priority 0; policy accept;\n"
               + "\n".join(rules) + "\n"
               "  }\n"
               "}\n")
    run(["nft", "-f", "-"], ruleset)


def drop_udp_random(address, one_in, port=53):
    """Drops a random one in `one_in` of the UDP datagrams to and from
    address:port, counting what it dropped (see dropped())."""
    drop_udp_matching(address, "mod %d == 0" % one_in, port)


def drop_udp_percent(address, percent, port=53):
    """Drops a random `percent` (0-100, whole) of the UDP datagrams to and
    from address:port, each direction on its own draw (see dropped())."""
    if not 0 <= percent <= 100 or percent != int(percent):
        raise ValueError("a whole percentage is needed, not %r" % percent)
    drop_udp_matching(address, "mod 100 < %d" % percent, port)


def drop_udp_matching(address, draw, port):
    """The rules of drop_udp_random/drop_udp_percent: `draw` completes
    "numgen random ..." to decide each datagram.  On the input hook, which
    both directions pass on lo, so the loss is silent as on a real network
    (in the output hook the sender would get EPERM).  Only datagrams to
    port 53 of the address and from it match: the resolver's own queries
    to the authoritative servers go out from other ports and addresses."""
    ip = check_documentation_address(address)
    family = "ip" if ip.version == 4 else "ip6"
    ruleset = ("table inet labloss {\n"
               "  chain input {\n"
               "    type filter hook input priority 0; policy accept;\n"
               "    %s daddr %s udp dport %d numgen random %s "
               "counter drop\n"
               "    %s saddr %s udp sport %d numgen random %s "
               "counter drop\n"
               "  }\n"
               "}\n" % (family, ip, port, draw, family, ip, port, draw))
    run(["nft", "-f", "-"], ruleset)


def dropped():
    """Datagrams the drop_udp_random() rules dropped so far."""
    p = subprocess.run(["nft", "list", "table", "inet", "labloss"],
                       capture_output=True, text=True)
    total = 0
    for word, value in zip(p.stdout.split(), p.stdout.split()[1:]):
        if word == "packets":
            total += int(value)
    return total


def silence(addrs):
    """Makes every packet to the addresses vanish (a resolver that never
    answers, over UDP or TCP).  Dropped on the input hook: in the output
    hook the sender would get EPERM at once, a dead resolver rather than a
    silent one."""
    rules = []
    for addr in addrs:
        ip = check_documentation_address(addr)
        family = "ip" if ip.version == 4 else "ip6"
        rules.append("    %s daddr %s drop" % (family, ip))
    ruleset = ("table inet labsilent {\n"
               "  chain input {\n"
               "    type filter hook input priority 0; policy accept;\n"
               + "\n".join(rules) + "\n"
               "  }\n"
               "}\n")
    run(["nft", "-f", "-"], ruleset)


def redirect(network, to, port=25):
    """Sends every TCP connection to an address of `network` (port `port`)
    to `to` instead: one server behind an address RRset too large to give
    each address its own.  DNAT in the nat output hook, where locally made
    connections pass before routing."""
    net = ipaddress.ip_network(network)
    for addr in (net[0], net[-1], to):
        check_documentation_address(str(addr))
    ruleset = ("table ip labnat {\n"
               "  chain output {\n"
               "    type nat hook output priority -100; policy accept;\n"
               "    ip daddr %s tcp dport %d dnat to %s\n"
               "  }\n"
               "}\n" % (net, port, to))
    run(["nft", "-f", "-"], ruleset)


def count_tcp_connects(address, port=53):
    """Starts counting TCP connections (SYNs) to address:port; read the
    count with tcp_connects()."""
    ip = check_documentation_address(address)
    family = "ip" if ip.version == 4 else "ip6"
    ruleset = ("table inet labcount {\n"
               "  chain output {\n"
               "    type filter hook output priority 0; policy accept;\n"
               "    %s daddr %s tcp dport %d tcp flags & (syn | ack) == syn"
               " counter\n"
               "  }\n"
               "}\n" % (family, ip, port))
    run(["nft", "-f", "-"], ruleset)


def tcp_connects():
    """TCP connections counted since count_tcp_connects()."""
    p = subprocess.run(["nft", "list", "table", "inet", "labcount"],
                       capture_output=True, text=True)
    words = p.stdout.split()
    return sum(int(v) for w, v in zip(words, words[1:]) if w == "packets")


def run(cmd, stdin_text=None):
    """Runs a network tool; its stderr becomes the error when it fails."""
    p = subprocess.run(cmd, input=stdin_text, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s"
                           % (" ".join(cmd), p.returncode, p.stderr.strip()))


def udp_counters():
    """The namespace's UDP counters (/proc/net/snmp): RcvbufErrors shows
    datagrams a server's socket dropped because it was full."""
    with open("/proc/net/snmp", encoding="ascii") as f:
        rows = [l.split() for l in f if l.startswith("Udp:")]
    return dict(zip(rows[0][1:], (int(v) for v in rows[1][1:])))


def udp_sockets():
    """`ss -uanm`: every UDP socket with its memory and drop counts."""
    p = subprocess.run(["ss", "-uanm"], capture_output=True, text=True)
    return p.stdout
