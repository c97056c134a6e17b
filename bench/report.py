"""The benchmark's outputs: results.json, table.md and plot.png.

results.json holds every figure of every run (and the raw stats of the
sink and the resolver); table.md is one markdown table of the runs with
the units in the headers, the machine they ran on, the round trips and
the bare TLS handshake costs; plot.png shows deliveries/s and client CPU
per delivery against --jobs (log x axis), one line per mxclient build,
Postfix plain and with connection reuse as horizontal references.
"""

import json
import os
import platform
import shutil
import subprocess
import time

PACKAGES = ["libwolfssl35", "libgetdns10", "libevent-2.1-7", "unbound",
            "postfix", "nsd"]


def machine(root):
    """What the figures ran on."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for pkg in PACKAGES:
        p = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg],
                           capture_output=True, text=True)
        versions[pkg] = p.stdout.strip() if p.returncode == 0 else "-"
    commit = subprocess.run(["git", "-C", root, "rev-parse", "--short",
                             "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", root, "status", "--porcelain",
                            "--untracked-files=no"],
                           capture_output=True, text=True)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "packages": versions,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit.stdout.strip() + (" (with local changes)"
                                           if dirty.stdout.strip() else ""),
    }


def load_average():
    """The 1-minute load average (the machine is shared)."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return None


def fmt(value, digits=2):
    """A table cell: '-' for missing, few digits otherwise."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != 0 and abs(value) < 10 ** -digits:
            return "%.*g" % (digits, value)
        return "%.*f" % (digits, value)
    return str(value)


COLUMNS = [
    ("run", "name"),
    ("sender (build)", "who"),
    ("workload", "workload"),
    ("N", "n"),
    ("--jobs", "jobs"),
    ("max conn. at once", "sink_max_concurrent"),
    ("wall (s)", "wall_s"),
    ("deliveries/s", "deliveries_per_s"),
    ("sender CPU (s/1k deliv.)", "sender_cpu_per_1k"),
    ("peak RSS (MB)", "peak_rss_mb"),
    ("RSS/in flight (KB)", "rss_per_inflight_kb"),
    ("RSS/recipient (KB)", "rss_per_rcpt_kb"),
    ("latency p50 (ms)", "p50_ms"),
    ("p99 (ms)", "p99_ms"),
    ("DNS queries/deliv.", "dns_per_delivery"),
    ("TCP conn./deliv.", "conn_per_delivery"),
    ("full TLS/deliv.", "tls_full_per_delivery"),
    ("resumed TLS/deliv.", "tls_resumed_per_delivery"),
    ("receiver CPU (s/1k)", "receiver_cpu_per_1k"),
    ("resolver CPU (s/1k)", "resolver_cpu_per_1k"),
    ("outcomes", "outcomes_text"),
    ("exit", "exit"),
    ("exactly-once", "exactly_once_text"),
    ("load (1 min)", "load_1min"),
]

DIGITS = {"load_1min": 1, "wall_s": 1, "deliveries_per_s": 0,
          "sender_cpu_per_1k": 2, "peak_rss_mb": 1,
          "rss_per_inflight_kb": 1, "rss_per_rcpt_kb": 1, "p50_ms": 0,
          "p99_ms": 0, "dns_per_delivery": 2, "conn_per_delivery": 2,
          "tls_full_per_delivery": 2, "tls_resumed_per_delivery": 2,
          "receiver_cpu_per_1k": 2, "resolver_cpu_per_1k": 2}


def sink_concurrency(results):
    """Fills sink_max_concurrent: the most connections the sink had at
    once (how many deliveries really were in SMTP together)."""
    for r in results["runs"]:
        value = (r.get("sink") or {}).get("max_concurrent")
        if value is not None:
            r["sink_max_concurrent"] = value


def per_recipient_rss(results):
    """Fills rss_per_rcpt_kb of mxclient runs: (peak RSS - the build's
    1-recipient peak) / N.  mxclient makes every delivery up front, so
    its memory follows N as well as --jobs."""
    base = {r["build"]: r["client"]["maxrss_kb"] for r in results["runs"]
            if r.get("kind") == "baseline" and r.get("client")}
    for r in results["runs"]:
        if r.get("kind") == "mxclient" and r["build"] in base and \
                r.get("client") and r.get("n"):
            r["rss_per_rcpt_kb"] = (r["client"]["maxrss_kb"]
                                    - base[r["build"]]) / r["n"]


def table(results):
    """table.md: the runs, the notes, round trips, handshakes, machine."""
    per_recipient_rss(results)
    sink_concurrency(results)
    lines = ["# mxclient benchmark", ""]
    lines.append("| " + " | ".join(c[0] for c in COLUMNS) + " |")
    lines.append("|" + "---|" * len(COLUMNS))
    for run in results["runs"]:
        cells = [fmt(run.get(key), DIGITS.get(key, 2))
                 for _title, key in COLUMNS]
        if run.get("small_n"):
            cells[COLUMNS.index(("N", "n"))] += " (small N)"
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Notes:"]
    lines += ["- " + n for n in notes(results)]
    rt = results.get("round_trips")
    if rt:
        lines += ["", "## Round trips per delivery (--jobs 1, sink "
                  "delaying every reply flight)", "",
                  "| build | recipients | p50 at 0 ms (ms) | p50 at %d ms "
                  "(ms) | p50/%d | (p50 at %d - p50 at 0)/%d | sink "
                  "turns/deliv. at 0 ms | at %d ms |"
                  % ((rt.get("delay_ms", 50),) * 5),
                  "|---|---|---|---|---|---|---|---|"]
        for row in rt["rows"]:
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                row["build"], row["set"], fmt(row.get("p50_0")),
                fmt(row.get("p50_delay")), fmt(row.get("rt_raw")),
                fmt(row.get("rt_net")), fmt(row.get("turns_0")),
                fmt(row.get("turns_delay"))))
    hs = results.get("hsbench") or {}
    if hs:
        lines += ["", "## Bare TLS 1.3 handshake (mxc-hsbench, in memory, "
                  "ECDSA P-256 certificate)", ""]
        lines += hsbench_table(hs)
    m = results.get("machine", {})
    if m:
        lines += ["", "## Machine", "",
                  "- %s, nproc %s, kernel %s" % (m.get("cpu"), m.get("nproc"),
                                                  m.get("kernel")),
                  "- packages: " + ", ".join(
                      "%s %s" % kv for kv in m.get("packages", {}).items()),
                  "- date %s, commit %s" % (m.get("date"), m.get("commit")),
                  "- load average (1 min) at start %s, at end %s (the "
                  "machine is shared)" % (fmt(results.get("load_start")),
                                          fmt(results.get("load_end")))]
    phases = results.get("phases")
    if phases:
        lines += ["- phase times (s): " + ", ".join(
            "%s %s" % (k, fmt(v, 1)) for k, v in phases.items())]
    return "\n".join(lines) + "\n"


def notes(results):
    """What the table's figures are, and every run flagged."""
    out = [
        "Per delivery = per delivered recipient; CPU is user+system "
        "(sender: wait4 rusage of mxclient, or the whole Postfix instance "
        "from /proc; receiver: the sink's rusage, or the receiving "
        "Postfix; resolver: unbound from /proc, 10 ms ticks).",
        "RSS per delivery in flight = (peak RSS - peak RSS of a "
        "1-recipient run) / min(jobs, N); RSS per recipient = the same "
        "difference / N (mxclient creates every delivery at the start, so "
        "its peak grows with N too, and the first figure overstates what "
        "one delivery in flight costs when N is much larger than --jobs).",
        "Latency: mxclient %s; Postfix rows: delays c+d from its log "
        "(connection setup + transmission, without queue wait)."
        % ("elapsed_ms - queue_ms (its queue wait excluded)"
           if results.get("latency_kind") == "elapsed-queue"
           else "elapsed_ms (includes the wait for a --jobs slot)"),
        "DNS queries = queries unbound received from the sender during "
        "the run (unbound restarted, cold cache, before each run).",
    ]
    small = sorted({r["n"] for r in results["runs"]
                    if r.get("small_n")})
    if small:
        out.append("Runs marked `small N` use N = %s recipients (--jobs 1 "
                   "and 10 would take too long at full N)."
                   % ", ".join(str(s) for s in small))
    for run in results["runs"]:
        if run.get("flagged"):
            out.append("**FLAGGED %s**: %s" % (run["name"],
                                               run["flagged"]))
    return out


def hsbench_rows(data):
    """mxc-hsbench's JSON lines as (build line, handshake rows)."""
    items = data if isinstance(data, list) else [data]
    build = next((d for d in items if isinstance(d, dict)
                  and d.get("type") == "build"), {})
    rows = [d for d in items if isinstance(d, dict)
            and d.get("type") == "handshake"]
    return build, rows


def hsbench_text(data):
    """The handshake benchmark's figures in one line."""
    if isinstance(data, dict) and "error" in data:
        return "not run: " + data["error"]
    build, rows = hsbench_rows(data)
    parts = ["%s %s client %s us server %s us" % (
        r.get("group"), r.get("kind"), fmt(r.get("client_us"), 0),
        fmt(r.get("server_us"), 0)) for r in rows]
    if build:
        parts.append("AES-128-GCM %s MB/s" % fmt(build.get("aes128gcm_MBps"),
                                                 0))
    return "; ".join(parts) if parts else json.dumps(data)[:500]


def hsbench_table(hs):
    """The bare handshake costs of every build as markdown lines."""
    lines = ["| wolfSSL build | group | handshake | client CPU (us) | "
             "server CPU (us) | AES-128-GCM (MB/s) |",
             "|---|---|---|---|---|---|"]
    for name, data in hs.items():
        if isinstance(data, dict) and "error" in data:
            lines.append("| %s | not run: %s | | | | |" % (name,
                                                         data["error"]))
            continue
        build, rows = hsbench_rows(data)
        for r in rows:
            lines.append("| %s | %s | %s | %s | %s | %s |" % (
                name, r.get("group"), r.get("kind"),
                fmt(r.get("client_us"), 0), fmt(r.get("server_us"), 0),
                fmt(build.get("aes128gcm_MBps"), 0)))
    return lines


def write_all(outdir, results, plot=True):
    """results.json, table.md and (if asked and gnuplot exists) plot.png."""
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    text = table(results)
    with open(os.path.join(outdir, "table.md"), "w") as f:
        f.write(text)
    if plot:
        results["plot"] = make_plot(outdir, results)
        with open(os.path.join(outdir, "results.json"), "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
    return text


def small_note(results):
    """ ' (--jobs 1, 10: 2000)' when those runs used a smaller N."""
    small = sorted({(r["jobs"], r["n"]) for r in results["runs"]
                    if r.get("small_n") and r.get("workload") == "mixed"})
    if not small:
        return ""
    return " (--jobs %s: %s)" % (", ".join(str(j) for j, _n in small),
                                 small[0][1])


def make_plot(outdir, results):
    """plot.png with gnuplot; returns its path or why there is none."""
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        return "no plot: gnuplot is not installed"
    series = {}
    for run in results["runs"]:
        if run.get("kind") == "mxclient" and run.get("workload") == "mixed" \
                and run.get("deliveries_per_s"):
            series.setdefault(run["build"], []).append(run)
    if not series:
        return "no plot: no mixed-workload mxclient runs"
    refs = [r for r in results["runs"] if r.get("kind") == "postfix-sender"
            and r.get("deliveries_per_s")]
    files, plots_top, plots_bottom = [], [], []
    order = [b["name"] for b in results.get("builds", [])]
    for i, (build, runs) in enumerate(sorted(
            series.items(), key=lambda kv: (order.index(kv[0])
                                            if kv[0] in order else 99,
                                            kv[0]))):
        path = os.path.join(outdir, "plot-%s.dat" % build)
        with open(path, "w") as f:
            for r in sorted(runs, key=lambda r: r["jobs"]):
                f.write("%d %f %f\n" % (r["jobs"], r["deliveries_per_s"],
                                        r["sender_cpu_per_1k"] or 0))
        files.append(path)
        plots_top.append("'%s' using 1:2 with linespoints lw 2 pt %d "
                         "title 'mxclient (wolfSSL %s)'" % (path, 7 + i,
                                                            build))
        plots_bottom.append("'%s' using 1:3 with linespoints lw 2 pt %d "
                            "title 'mxclient (wolfSSL %s)'" % (path, 7 + i,
                                                               build))
    for k, r in enumerate(refs):
        plots_top.append("%f with lines dt %d lw 2 title '%s'" % (
            r["deliveries_per_s"], 2 + k, r["who"]))
        plots_bottom.append("%f with lines dt %d lw 2 title '%s'" % (
            r["sender_cpu_per_1k"] or 0, 2 + k, r["who"]))
    png = os.path.join(outdir, "plot.png")
    m = results.get("machine", {})
    script = "\n".join([
        "set terminal pngcairo size 1100,900 font 'sans,11'",
        "set output '%s'" % png,
        "set multiplot layout 2,1 title \"mxclient vs Postfix, mixed "
        "list of %s recipients%s at %s domains\\n%s, %s cores, %s\""
        % (results.get("config", {}).get("n"), small_note(results),
           results.get("config", {}).get("domains"), m.get("cpu", "?"),
           m.get("nproc", "?"), m.get("date", "")),
        "set logscale x 10",
        "set xrange [0.7:15000]",
        "set grid",
        "set key outside right",
        "set xlabel '--jobs (deliveries in flight)'",
        "set ylabel 'deliveries/s'",
        "set yrange [0:*]",
        "plot " + ", ".join(plots_top),
        "set ylabel 'sender CPU per delivery (ms)'",
        "plot " + ", ".join(plots_bottom),
        "unset multiplot",
    ]) + "\n"
    with open(os.path.join(outdir, "plot.gp"), "w") as f:
        f.write(script)
    p = subprocess.run([gnuplot, os.path.join(outdir, "plot.gp")],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return "no plot: gnuplot failed: " + p.stderr.strip()[:300]
    return png
