"""The benchmark's workloads: who gets the message, and the message itself.

A workload is a recipient file (one address a line, what mxclient's
--rcpt-file reads) of users uNNNNN at the lab's domains dNNNN.example:

  mixed       a notification list: a few domains take thousands of the
              recipients, most domains one or two (a Zipf-like law)
  one-domain  every recipient at d0001.example
  per-domain  one recipient per domain, as many as the lab has

Everything is deterministic (fixed seeds), so two runs of the benchmark
send the same list in the same order, and the message is fixed text, so
its hash is known before anything is sent.
"""

import hashlib
import random

# Exponent of the Zipf-like law of the mixed list: with N = 20,000 and
# 2,000 domains the largest domain takes about 4,000 recipients and two
# thirds of the domains take one or two.
ZIPF_EXPONENT = 1.2
SEED = 20240601

SENDER = "bench@sender.example"


def domain_name(i):
    """The lab's i-th recipient domain (i from 1): d0001.example."""
    return "d%04d.example" % i


def address(user, domain):
    """uNNNNN@dNNNN.example."""
    return "u%05d@%s" % (user, domain_name(domain))


def zipf_counts(n, domains, exponent=ZIPF_EXPONENT):
    """How many of n recipients each rank gets: every domain one first
    when there are at least two recipients per domain, the rest by
    weight 1/rank^exponent, rounded by largest remainder so the total is
    exactly n.  Returns the counts by rank (largest first)."""
    base = 1 if n >= 2 * domains else 0
    rest = n - base * domains
    weights = [1.0 / (k ** exponent) for k in range(1, domains + 1)]
    total = sum(weights)
    exact = [rest * w / total for w in weights]
    counts = [int(e) for e in exact]
    short = rest - sum(counts)
    order = sorted(range(domains), key=lambda k: exact[k] - counts[k],
                   reverse=True)
    for k in order[:short]:
        counts[k] += 1
    return [c + base for c in counts]


def mixed(n, domains, seed=SEED):
    """The notification list: [(user, domain)], users 1..n in the order
    they are sent.  Ranks map to domains through a fixed permutation, so
    the big domains land on different sink addresses; the list is
    shuffled, as a real list is not sorted by domain."""
    rng = random.Random(seed)
    by_rank = list(range(1, domains + 1))
    rng.shuffle(by_rank)
    slots = []
    for rank, count in enumerate(zipf_counts(n, domains)):
        slots += [by_rank[rank]] * count
    rng.shuffle(slots)
    return [(user, dom) for user, dom in enumerate(slots, start=1)]


def one_domain(n):
    """All n recipients at d0001.example."""
    return [(user, 1) for user in range(1, n + 1)]


def per_domain(domains, seed=SEED):
    """One recipient at each domain, in a fixed shuffled order."""
    order = list(range(1, domains + 1))
    random.Random(seed + 1).shuffle(order)
    return [(user, dom) for user, dom in enumerate(order, start=1)]


def round_trip_set(spread=20, same=20, domains=2000):
    """The small set for counting round trips: `spread` recipients at as
    many distinct domains and `same` at one domain (d0001)."""
    step = max(1, domains // max(spread, 1))
    picked = [(user, 2 + (user - 1) * step % (domains - 1))
              for user in range(1, spread + 1)]
    picked += [(spread + k, 1) for k in range(1, same + 1)]
    return picked


def write_recipients(path, pairs):
    """Writes the --rcpt-file; returns the addresses in order."""
    addrs = [address(u, d) for u, d in pairs]
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(addrs) + "\n")
    return addrs


def distribution(pairs):
    """A summary of how recipients spread over domains, for the report."""
    per = {}
    for _user, dom in pairs:
        per[dom] = per.get(dom, 0) + 1
    counts = sorted(per.values(), reverse=True)
    n = len(pairs)
    buckets = [("1", 1, 1), ("2", 2, 2), ("3-10", 3, 10), ("11-100", 11, 100),
               ("101-1000", 101, 1000), (">1000", 1001, 10 ** 9)]
    return {
        "recipients": n,
        "domains": len(counts),
        "largest": counts[:5],
        "top10_share": round(sum(counts[:10]) / n, 3) if n else 0,
        "domains_by_size": {name: sum(1 for c in counts if lo <= c <= hi)
                            for name, lo, hi in buckets},
    }


def describe_distribution(summary):
    """One line for stdout: the mixed list's shape."""
    sizes = ", ".join("%s: %d" % kv for kv in
                      summary["domains_by_size"].items() if kv[1])
    return ("%d recipients at %d domains; largest %s; top 10 domains take "
            "%.0f%%; domains by recipients {%s}"
            % (summary["recipients"], summary["domains"],
               "/".join(str(c) for c in summary["largest"]),
               100 * summary["top10_share"], sizes))


def message():
    """The one message every recipient gets: about 3 KB of headers and
    plain text with LF line ends (mxclient normalises to CRLF), one
    body line starting with a dot (dot-stuffing is exercised) and
    nothing that a relay would rewrite (fully qualified addresses,
    Date and Message-ID present, 7-bit, short lines)."""
    headers = [
        "From: Bench Sender <bench@sender.example>",
        "To: undisclosed-recipients:;",
        "Subject: mxclient benchmark notification",
        "Date: Sat, 01 Jun 2024 12:00:00 +0000",
        "Message-ID: <bench-20240601@sender.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "Content-Transfer-Encoding: 7bit",
    ]
    body = ["Hello,", "",
            "this is the benchmark's notification. Every recipient gets",
            "exactly this text; the sink hashes what it receives.", ""]
    line = 0
    while len("\n".join(headers + [""] + body)) < 2900:
        line += 1
        body.append("Line %03d of the notice: the quick brown fox jumps over "
                    "the lazy dog %03d." % (line, line))
        if line == 10:
            body.append(".A line that starts with a dot, stuffed on the wire.")
    body += ["", "-- ", "The benchmark"]
    return ("\n".join(headers + [""] + body) + "\n").encode("ascii")


def normalised(msg):
    """The message as a receiver must store it: CRLF line ends, ending
    in CRLF (what mxclient sends, before dot-stuffing)."""
    text = msg.replace(b"\r\n", b"\n")
    if not text.endswith(b"\n"):
        text += b"\n"
    return text.replace(b"\n", b"\r\n")


def sha256_hex(data):
    """Hex SHA-256."""
    return hashlib.sha256(data).hexdigest()
