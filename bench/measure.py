"""Measuring: processes with their rusage, CPU from /proc, percentiles,
and the exactly-once check of what the receivers got.

No figure here comes from the program under test except what it reports
about each delivery (its JSON lines); CPU and memory come from the kernel
(wait4 rusage, /proc/<pid>/stat), counts from the receivers.
"""

import json
import os
import resource
import signal
import subprocess
import time

TICK = os.sysconf("SC_CLK_TCK")


def wait_rusage(proc, timeout=None):
    """Reaps a Popen child with wait4, so its rusage is ours to read;
    SIGKILL after `timeout` seconds.  Returns (exit status, rusage)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if proc.returncode is not None:    # reaped by Popen.poll()
            return proc.returncode, None
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage
        if deadline is not None and time.monotonic() > deadline:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = None
        time.sleep(0.01)


def run_measured(argv, stdin_path, stdout_path, stderr_path, nofile,
                 timeout):
    """Runs one program to completion: wall time and its rusage (user,
    system, peak RSS).  It gets RLIMIT_NOFILE `nofile` before exec."""
    nofile = usable_nofile(nofile)

    def limits():
        """Runs in the child, before exec."""
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    with open(stdin_path, "rb") as i, open(stdout_path, "wb") as o, \
            open(stderr_path, "wb") as e:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=i, stdout=o, stderr=e,
                                preexec_fn=limits)
        status, usage = wait_rusage(proc, timeout)
        wall = time.monotonic() - start
    return {"exit": status, "wall_s": wall, "user_s": usage.ru_utime,
            "sys_s": usage.ru_stime, "maxrss_kb": usage.ru_maxrss,
            "killed": status == -signal.SIGKILL, "nofile": nofile}


def usable_nofile(wanted):
    """RLIMIT_NOFILE to give a child: `wanted`, or our hard limit when
    that is lower (without CAP_SYS_RESOURCE, as in some containers, even
    root cannot raise it)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


def proc_stat(pid):
    """(ppid, utime+stime, cutime+cstime) in seconds, or None if gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(b")") + 2:].split()
    ticks = [int(x) for x in rest[11:15]]
    return int(rest[1]), (ticks[0] + ticks[1]) / TICK, \
        (ticks[2] + ticks[3]) / TICK


def proc_cpu(pid):
    """A process's CPU so far: its own plus its reaped children's."""
    st = proc_stat(pid)
    return 0.0 if st is None else st[1] + st[2]


def process_tree(root):
    """{pid: (ppid, own CPU, reaped children's CPU)} of `root` and every
    live descendant, from /proc."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st is not None:
                table[int(name)] = st
    kids = {}
    for pid, (ppid, _own, _reaped) in table.items():
        kids.setdefault(ppid, []).append(pid)
    tree, stack = {}, [root]
    while stack:
        pid = stack.pop()
        if pid in tree or pid not in table:
            continue
        tree[pid] = table[pid]
        stack += kids.get(pid, [])
    return tree


def tree_cpu(root):
    """CPU of a process and every live descendant (each with its reaped
    children): an instance's total over an interval is the difference of
    two of these, whatever forked and exited in between."""
    return sum(own + reaped for _pp, own, reaped in
               process_tree(root).values())


def tree_pss_kb(root):
    """The summed PSS (KB) of a process tree: shared pages counted once
    in total, split among the processes that share them."""
    total = 0
    for pid in process_tree(root):
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def listening(port):
    """Tells whether some socket listens on TCP `port` in this namespace
    (read from /proc, so no connection disturbs a receiver's counters)."""
    want = ":%04X" % port
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[1].endswith(want) and fields[3] == "0A":
                        return True
        except OSError:
            pass
    return False


def wait_gone(port, timeout=10):
    """Waits until nothing listens on `port`."""
    deadline = time.monotonic() + timeout
    while listening(port) and time.monotonic() < deadline:
        time.sleep(0.05)


def percentile(values, p):
    """The p-th percentile (nearest rank) of a list, None if empty."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def read_json_lines(path):
    """The client's --json output: (records, lines that were not JSON)."""
    records, bad = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                bad.append(line.rstrip()[:200])
                continue
            if isinstance(rec, dict):
                records.append(rec)
            else:
                bad.append(line.rstrip()[:200])
    return records, bad


def latencies(records):
    """Per-delivery latency in ms of delivered recipients, and what it is:
    elapsed - queue_ms when the client reports its queue wait."""
    done = [r for r in records if r.get("status") == "delivered"]
    if done and all("queue_ms" in r for r in done):
        return [r["elapsed_ms"] - r["queue_ms"] for r in done], \
            "elapsed-queue"
    return [r.get("elapsed_ms", 0) for r in done], "elapsed"


def exactly_once(expected, received, want_hash, reported=None):
    """Checks what a receiver got against what was sent.

    `expected` lists the recipient addresses; `received` maps address ->
    {"count": n, "sha256": [hex...]} (the sink's stats, or built from a
    maildir); `reported` maps address -> the client's status, if known.
    Returns a dict of counts and examples:
      lost: the sender reported it delivered, no copy arrived
      missing: not delivered and no copy (deferred or failed, reported)
      duplicated: more than one copy
      corrupt: a copy whose hash is not the message's
      extra: a copy for an address nobody sent to
      doubtful: a copy arrived but the sender reported it not delivered
    ok is True when every recipient has exactly one intact copy.
    """
    got = {k.lower(): v for k, v in received.items()}
    rep = {k.lower(): v for k, v in (reported or {}).items()}
    want = [a.lower() for a in expected]
    wanted = set(want)
    out = {"expected": len(want), "received_ok": 0, "lost": [],
           "missing": [], "duplicated": [], "corrupt": [], "extra": [],
           "doubtful": []}
    for addr in want:
        entry = got.get(addr)
        count = entry["count"] if entry else 0
        status = rep.get(addr)
        if count == 0:
            if reported is not None and status != "delivered":
                out["missing"].append(addr)
            else:
                out["lost"].append(addr)
            continue
        if count > 1:
            out["duplicated"].append(addr)
        hashes = entry.get("sha256") or []
        if want_hash is not None and any(h.lower() != want_hash
                                         for h in hashes):
            out["corrupt"].append(addr)
        if reported is not None and status != "delivered":
            out["doubtful"].append(addr)
        if count == 1 and (want_hash is None or
                           [h.lower() for h in hashes] == [want_hash]):
            out["received_ok"] += 1
    out["extra"] = sorted(a for a in got if a not in wanted)
    out["ok"] = out["received_ok"] == len(want) and not out["extra"] \
        and not out["doubtful"]
    return out


def summarise_check(check):
    """Counts only (the lists cut to a few examples) for results.json."""
    s = {}
    for key, value in check.items():
        if isinstance(value, list):
            s[key] = len(value)
            if value:
                s[key + "_examples"] = value[:5]
        else:
            s[key] = value
    return s


def describe_check(check):
    """One line: 'ok' or what went wrong."""
    if check["ok"]:
        return "ok"
    parts = []
    for key in ("lost", "missing", "duplicated", "corrupt", "extra",
                "doubtful"):
        n = check[key] if isinstance(check[key], int) else len(check[key])
        if n:
            parts.append("%d %s" % (n, key))
    return "FAILED: " + ", ".join(parts)


def tail(path, lines=30):
    """The last lines of a log file."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no file %s)\n" % path
