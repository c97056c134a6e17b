"""The load lab: thousands of signed domains, one resolver, fast receivers.

Built on the integration lab (test/lab/), inside the network and PID
namespaces bench/run re-executes itself into:

  - a DNSSEC-signed hierarchy: the lab root ".", "example." and D zones
    dNNNN.example., each its own signed zone with a DS in example.,
    publishing "@ MX 10 mx", "mx A 203.0.113.(1 + i % 50)" and a DANE-EE
    record "_25._tcp.mx TLSA 3 1 1" for the one receiver key.  The child
    zones share one KSK and one ZSK (each zone still has its own DNSKEY
    RRset, signatures and DS: only the key material is common), and are
    signed two at a time, so 2,000 zones take seconds, not minutes;
  - nsd (the lab's config, RRL off) and unbound (the lab's config, tuned
    for thousands of concurrent clients, with unbound-control on a unix
    socket for its query counters), restarted for every run so each run
    starts with a cold cache and its own counters;
  - receivers on the 50 addresses 203.0.113.1-50: the benchmark sink
    (mxc-sink, restarted for every run), or a real Postfix MX;
  - a real Postfix as the sending MTA, for the comparison.

Every process is ours, tracked by pid; the namespace ends them all anyway.
"""

import base64
import concurrent.futures
import hashlib
import os
import resource
import signal
import socket
import subprocess
import time

import fastsign
import labdns
import labnet
import labpki
import labpostfix

import measure

SINK_ADDRESSES = ["203.0.113.%d" % i for i in range(1, 51)]
RECEIVER_NAME = "mx.bench.example"
# The sending Postfix's own address: its injection smtpd listens here
# (port 2525, so it never meets the receivers' port 25) and its smtp
# client connects from here.
SENDER_MTA_ADDR = "192.0.2.25"
INJECT_PORT = 2525

# Kernel settings of the namespace (each is per network namespace): a wide
# ephemeral port range and deep accept queues for 10,000 connections.
NETNS_SYSCTLS = {
    "net/ipv4/ip_local_port_range": "1024 65535",
    "net/core/somaxconn": "65535",
    "net/ipv4/tcp_max_syn_backlog": "65535",
    "net/ipv4/tcp_tw_reuse": "1",
}

# unbound, on top of the lab's settings: room for 10,000 concurrent
# deliveries, no per-query logging (it would cost more than the answers),
# and its counters over a unix socket.
UNBOUND_SERVER = {
    "num-threads": "1",
    "num-queries-per-thread": "16384",
    "outgoing-range": "8192",
    "so-rcvbuf": "32m",
    "so-sndbuf": "32m",
    "incoming-num-tcp": "1024",
    "msg-cache-size": "64m",
    "rrset-cache-size": "128m",
    "key-cache-size": "32m",
    "neg-cache-size": "8m",
    "log-queries": "no",
    "val-log-level": "0",
    "verbosity": "1",
    "statistics-cumulative": "no",
    "extended-statistics": "no",
}


class LabFailure(Exception):
    """The load lab could not be built or a server misbehaved."""


def fast_ds(owner, dnskey_rdata_text):
    """The SHA-256 DS of a DNSKEY (RFC 4034 5.1.4): digest over the
    owner's canonical wire form and the DNSKEY RDATA."""
    flags, proto, alg, key = dnskey_rdata_text.split(None, 3)
    key = base64.b64decode("".join(key.split()))
    rdata = (int(flags).to_bytes(2, "big") + bytes([int(proto), int(alg)])
             + key)
    wire = b"".join(bytes([len(l)]) + l.lower().encode("ascii")
                    for l in owner.rstrip(".").split(".") if l) + b"\0"
    digest = hashlib.sha256(wire + rdata).hexdigest().upper()
    return "%s\tIN\tDS\t%d %s 2 %s" % (owner, fastsign.key_tag(rdata), alg,
                                       digest)


class SharedKey:
    """One ldns key pair used by many zones: the .private file is common,
    the .key file is rewritten with each zone's owner name (ldns-signzone
    insists on it) and the DS computed here."""

    def __init__(self, workdir, ksk):
        """Makes the key with ldns-keygen and reads its DNSKEY data."""
        base = labdns.run(["ldns-keygen", "-a", "ECDSAP256SHA256"]
                          + (["-k"] if ksk else []) + ["shared.example."],
                          cwd=workdir).strip()
        self.base = os.path.join(workdir, base)
        with open(self.base + ".key", encoding="ascii") as f:
            line = f.read().split(";")[0]
        fields = line.split()
        # owner IN DNSKEY flags proto alg key...
        self.rdata = " ".join(fields[3:])
        # Check the DS arithmetic once against ldns's own DS.
        if ksk:
            with open(self.base + ".ds", encoding="ascii") as f:
                theirs = f.read().split()
            ours = fast_ds("shared.example.", self.rdata).split()
            if [x.upper() for x in theirs[-4:]] != [x.upper()
                                                    for x in ours[-4:]]:
                raise LabFailure("DS computed here %s differs from ldns's %s"
                                 % (ours, theirs))

    def for_zone(self, zone_name, directory, tag):
        """Writes this key as the zone's; returns its base path."""
        base = os.path.join(directory, tag)
        with open(base + ".key", "w", encoding="ascii") as f:
            f.write("%s\tIN\tDNSKEY\t%s\n" % (zone_name, self.rdata))
        if not os.path.exists(base + ".private"):
            os.symlink(self.base + ".private", base + ".private")
        return base


class BenchDns(labdns.DnsTree):
    """The lab's DnsTree with an index of children (the lab scans every
    zone per lookup: quadratic at 2,000 zones) and a fast build: leaf
    zones share keys and are signed in parallel."""

    def __init__(self, workdir, workers):
        """An empty tree (root and example.), signing with `workers`."""
        self._kids = {}
        self.workers = workers
        self.timings = {}
        super().__init__(workdir)

    def add(self, zone):
        """Adds a zone and indexes it under its parent."""
        zone = super().add(zone)
        if zone.name != ".":
            self._kids.setdefault(labdns.parent_name(zone.name),
                                  []).append(zone)
        return zone

    def children(self, zone):
        """The zones directly below `zone` (indexed)."""
        return self._kids.get(zone.name, [])

    def build(self):
        """Signs the leaves (shared keys; in-process, or ldns-signzone in
        parallel), then the rest children first with their own keys as the
        lab does; returns the anchor path."""
        t0 = time.monotonic()
        leaves = [z for z in self.zones.values()
                  if z.name not in self._kids and z.name != "."
                  and z.signed and not z.corrupt_rrsig and not z.wrong_ds]
        ksk = SharedKey(self.workdir, ksk=True)
        zsk = SharedKey(self.workdir, ksk=False)
        zonedir = os.path.join(self.workdir, "zones")
        os.makedirs(zonedir, exist_ok=True)
        now = int(time.time())
        times = (now - labdns.SIG_BACKDATE, now + labdns.SIG_LIFETIME)
        fast = None
        if fastsign.available() and not os.environ.get("MXC_BENCH_LDNS_SIGN"):
            fast = (fastsign.Key(ksk.base, ksk.rdata),
                    fastsign.Key(zsk.base, zsk.rdata))
        jobs, verified = [], False
        for zone in leaves:
            path = os.path.join(zonedir, zone.name.rstrip("."))
            text = self.zone_text(zone)
            zone.zonefile = path + ".signed"
            zone.ds_lines = [fast_ds(zone.name, ksk.rdata)]
            if fast:
                try:
                    signed = fastsign.sign_zone(text, zone.name, fast[0],
                                                fast[1], times[0], times[1],
                                                labdns.TTL)
                    with open(zone.zonefile, "w", encoding="utf-8") as f:
                        f.write(signed)
                    if not verified:
                        # The first zone signed here must satisfy ldns.
                        labdns.run(["ldns-verify-zone", zone.zonefile])
                        verified = True
                    continue
                except fastsign.Unsupported as e:
                    self.timings.setdefault("fastsign_fallback", str(e))
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            d = path + ".keys"
            os.makedirs(d, exist_ok=True)
            k = ksk.for_zone(zone.name, d, "ksk")
            z = zsk.for_zone(zone.name, d, "zsk")
            jobs.append(["ldns-signzone", "-o", zone.name,
                         "-i", str(times[0]), "-e", str(times[1]),
                         "-f", zone.zonefile, path, z, k])
        with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
            for _ in pool.map(labdns.run, jobs):
                pass
        self.timings["sign_leaves_s"] = round(time.monotonic() - t0, 2)
        self.timings["leaves_signed_by"] = "ldns-signzone" if jobs else \
            "in-process (fastsign.py)"
        t1 = time.monotonic()
        rest = sorted((z for z in self.zones.values() if z not in leaves),
                      key=labdns.Zone.label_count, reverse=True)
        for zone in rest:
            base = "root" if zone.name == "." else zone.name.rstrip(".")
            path = os.path.join(self.workdir, base + ".zone")
            with open(path, "w", encoding="utf-8") as f:
                f.write(self.zone_text(zone))
            zone.zonefile = self.sign(zone, path) if zone.signed else path
        anchor = os.path.join(self.workdir, "trust-anchor.ds")
        with open(anchor, "w", encoding="utf-8") as f:
            f.write("\n".join(self.zones["."].ds_lines) + "\n")
        self.timings["sign_parents_s"] = round(time.monotonic() - t1, 2)
        return anchor


def override_config(text, section, settings):
    """Sets `key: value` lines of one section of an unbound/nsd config:
    replaces existing keys, appends the others at the section's end."""
    out, current, pending = [], None, dict(settings)

    def flush():
        """Appends the settings not found in the section."""
        for key, value in pending.items():
            out.append("    %s: %s" % (key, value))
        pending.clear()

    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            if current == section:
                flush()
            current = line.strip()[:-1]
            out.append(line)
            continue
        key = line.strip().split(":", 1)[0]
        if current == section and key in pending:
            out.append("    %s: %s" % (key, pending.pop(key)))
            continue
        out.append(line)
    if current == section:
        flush()
    return "\n".join(out) + "\n"


def nofile_limit(n):
    """A preexec function raising RLIMIT_NOFILE to n (we are root)."""
    n = measure.usable_nofile(n)

    def apply():
        """Runs in the child, before exec."""
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return apply


class Daemon:
    """A server we started, as our child: stop by pid, CPU from /proc."""

    def __init__(self, name, argv, log_path, nofile=None):
        """Starts `argv` now, output appended to `log_path`."""
        self.name = name
        self.argv = argv
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=nofile_limit(nofile) if nofile else None)
        self.pid = self.proc.pid
        self.rusage = None

    def alive(self):
        """Tells whether it still runs."""
        return self.proc.poll() is None if self.rusage is None else False

    def cpu(self):
        """User+system seconds so far (its own and reaped children's)."""
        return measure.proc_cpu(self.pid)

    def stop(self, timeout=30):
        """SIGTERM, wait (SIGKILL after `timeout`); returns the exit status
        and keeps the rusage."""
        if self.rusage is not None:
            return self.proc.returncode
        if self.proc.returncode is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        status, self.rusage = measure.wait_rusage(self.proc, timeout)
        return status


class BenchLab:
    """The load lab: addresses, keys, zones, DNS servers, receivers."""

    def __init__(self, workdir, domains, log):
        """Nothing runs until start()."""
        self.workdir = workdir
        self.domains = domains
        self.log = log
        self.dns = BenchDns(workdir, workers=max(1, os.cpu_count() or 1))
        self.anchor = None
        self.cert = None
        self.credential = None
        self.nsd = None
        self.unbound = None
        self.unbound_conf = None
        self.sink = None
        self.postfixes = []
        self.timings = {}
        self.resolv_mounted = False

    # --- building ---

    def start(self):
        """Addresses, kernel settings, the receiver key, zones, nsd."""
        t0 = time.monotonic()
        labnet.bring_up_loopback()
        labnet.add_addresses(SINK_ADDRESSES + [
            labdns.RESOLVER_ADDR, labdns.AUTH_ADDR, labdns.PROBE_ADDR,
            SENDER_MTA_ADDR])
        for key, value in NETNS_SYSCTLS.items():
            try:
                with open("/proc/sys/" + key, "w") as f:
                    f.write(value)
            except OSError as e:
                self.log("lab: cannot set %s: %s" % (key, e))
        pki = labpki.Pki(os.path.join(self.workdir, "pki"))
        self.cert = pki.self_signed(RECEIVER_NAME)
        self.credential = labpki.Credential(self.cert)
        tlsa = labpki.tlsa(self.cert, 3, 1, 1)
        for i in range(1, self.domains + 1):
            self.dns.add(labdns.Zone("d%04d.example" % i, records=[
                "@ MX 10 mx",
                "mx A %s" % SINK_ADDRESSES[i % 50],
                "_25._tcp.mx TLSA " + tlsa]))
        self.anchor = self.dns.build()
        self.timings.update(self.dns.timings)
        t1 = time.monotonic()
        conf = os.path.join(self.workdir, "nsd.conf")
        with open(conf, "w") as f:
            f.write(labdns.nsd_config(self.workdir, self.dns.zones.values()))
        self.nsd = Daemon("nsd", ["nsd", "-d", "-c", conf],
                          os.path.join(self.workdir, "nsd.out"))
        self.wait_dns(self.nsd, labdns.AUTH_ADDR, "d%04d.example"
                      % self.domains, need_ad=False, timeout=60)
        self.timings["nsd_start_s"] = round(time.monotonic() - t1, 2)
        text = labdns.unbound_config(self.workdir, self.anchor)
        text = override_config(text, "server", UNBOUND_SERVER)
        text = override_config(text, "remote-control", {
            "control-enable": "yes",
            "control-interface": os.path.join(self.workdir, "unbound.ctl"),
            "control-use-cert": "no"})
        self.unbound_conf = os.path.join(self.workdir, "unbound.conf")
        with open(self.unbound_conf, "w") as f:
            f.write(text)
        self.restart_unbound()
        self.check_dns()
        self.timings["lab_total_s"] = round(time.monotonic() - t0, 2)

    def wait_dns(self, daemon, server, name, need_ad, timeout=15):
        """Polls until `server` answers NOERROR for `name` SOA (with AD if
        asked)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not daemon.alive():
                raise LabFailure("%s exited at start:\n%s" % (
                    daemon.name, measure.tail(daemon.log_path)))
            last = labdns.probe(server, name, "SOA")
            if last and last[0] == "NOERROR" and (last[1] or not need_ad):
                return
            time.sleep(0.05)
        raise LabFailure("%s gave no %sanswer for %s SOA (last %s):\n%s"
                         % (daemon.name, "validated " if need_ad else "",
                            name, last, measure.tail(daemon.log_path)))

    def check_dns(self):
        """Lab sanity: a leaf's MX and TLSA validate through unbound."""
        for name, rrtype in (("d0001.example", "MX"),
                             ("_25._tcp.mx.d%04d.example" % self.domains,
                              "TLSA")):
            r = labdns.drill(name, rrtype, timeout=5)
            if r is None or r[0] != "NOERROR" or "ad" not in r[1] \
                    or not r[2]:
                raise LabFailure("lab DNS: %s %s did not validate: %s"
                                 % (name, rrtype, r))

    # --- the resolver, per run ---

    def restart_unbound(self):
        """A fresh unbound: cold cache, zero counters, CPU from now."""
        if self.unbound:
            self.unbound.stop()
        self.unbound = Daemon("unbound", ["unbound", "-d", "-c",
                                          self.unbound_conf],
                              os.path.join(self.workdir, "unbound.out"),
                              nofile=65536)
        self.wait_dns(self.unbound, labdns.RESOLVER_ADDR, "example.",
                      need_ad=True)

    def unbound_stats(self):
        """unbound-control stats_noreset as a dict of numbers."""
        p = subprocess.run(["unbound-control", "-c", self.unbound_conf,
                            "stats_noreset"], capture_output=True, text=True,
                           timeout=30)
        if p.returncode != 0:
            raise LabFailure("unbound-control failed: %s"
                             % (p.stdout + p.stderr).strip())
        stats = {}
        for line in p.stdout.splitlines():
            key, _, value = line.partition("=")
            try:
                stats[key] = float(value)
            except ValueError:
                pass
        return stats

    def resolver_snapshot(self):
        """What a run's DNS figures are deltas of."""
        return {"queries": self.unbound_stats().get("total.num.queries", 0),
                "unbound_cpu": self.unbound.cpu(),
                "nsd_cpu": self.nsd.cpu()}

    # --- the sink ---

    def start_sink(self, binary, stats_path, delay_ms=0, nofile=65536):
        """Starts mxc-sink on 0.0.0.0:25; waits for its listener."""
        self.stop_receivers()
        measure.wait_gone(25)
        argv = [binary, "--listen", "0.0.0.0:25",
                "--cert", self.cert.cert_path, "--key", self.cert.key_path,
                "--hostname", RECEIVER_NAME, "--delay-ms", str(delay_ms),
                "--stats", stats_path]
        self.sink = Daemon("sink", argv, os.path.join(self.workdir,
                                                      "sink.out"), nofile)
        deadline = time.monotonic() + 10
        while not measure.listening(25):
            if not self.sink.alive():
                raise LabFailure("sink exited at start (%s):\n%s" % (
                    self.sink.proc.returncode,
                    measure.tail(self.sink.log_path)))
            if time.monotonic() > deadline:
                raise LabFailure("sink does not listen on port 25")
            time.sleep(0.02)
        return self.sink

    def stop_sink(self):
        """SIGTERM: the sink writes its stats and exits 0.  Returns
        (exit status, rusage)."""
        sink, self.sink = self.sink, None
        if sink is None:
            return None, None
        status = sink.stop()
        return status, sink.rusage

    # --- Postfix ---

    def postfix_receiver(self):
        """A real Postfix MX on the 50 sink addresses for every domain."""
        self.stop_receivers()
        domains = ["d%04d.example" % i for i in range(1, self.domains + 1)]
        pf = ReceiverPostfix(self.workdir, RECEIVER_NAME, SINK_ADDRESSES,
                             domains, self.credential)
        self.postfixes.append(pf)
        pf.start()
        wait_smtp([SINK_ADDRESSES[0], SINK_ADDRESSES[-1]], 25, pf)
        return pf

    def postfix_sender(self, tag, reuse, procs):
        """A real Postfix as the sending MTA, injection on port 2525."""
        self.use_lab_resolv_conf()
        pf = SenderPostfix(self.workdir, "mta-%s.sender.example" % tag,
                           reuse, procs)
        self.postfixes.append(pf)
        pf.start()
        wait_smtp([SENDER_MTA_ADDR], INJECT_PORT, pf)
        return pf

    def use_lab_resolv_conf(self):
        """Bind-mounts the lab's resolv.conf over /etc/resolv.conf in our
        private mount namespace: Postfix's libc resolver asks unbound and
        keeps the AD bit (glibc clears it without `options trust-ad`)."""
        if self.resolv_mounted:
            return
        path = os.path.join(self.workdir, "resolv.conf")
        with open(path, "w") as f:
            f.write("nameserver %s\noptions trust-ad\n"
                    % labdns.RESOLVER_ADDR)
        labdns.run(["mount", "--bind", path, "/etc/resolv.conf"])
        self.resolv_mounted = True

    def reap_orphans(self):
        """We are PID 1 of the namespace: daemons that double-forked
        (Postfix's master) become our children when their parent exits,
        and their zombies ours.  Reaps those, never a child we wait for
        ourselves (its rusage is a figure)."""
        ours = {d.pid for d in (self.nsd, self.unbound, self.sink) if d}
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) in ours:
                continue
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            rest = data[data.rindex(b")") + 2:].split()
            if rest[0] == b"Z" and int(rest[1]) == os.getpid():
                try:
                    os.waitpid(int(name), os.WNOHANG)
                except ChildProcessError:
                    pass

    def stop_receivers(self):
        """Stops whatever listens on the receivers' port 25."""
        if self.sink is not None:
            self.stop_sink()
        for pf in self.postfixes:
            if isinstance(pf, ReceiverPostfix) and pf.started:
                pf.stop()
                measure.wait_gone(25)

    def close(self):
        """Stops everything we started, by pid."""
        if self.sink is not None:
            self.stop_sink()
        for pf in self.postfixes:
            pf.stop()
        for d in (self.unbound, self.nsd):
            if d is not None:
                d.stop(timeout=5)
        if self.resolv_mounted:
            subprocess.run(["umount", "/etc/resolv.conf"],
                           capture_output=True)


def wait_smtp(addresses, port, pf, timeout=20):
    """Waits until each address answers 220 on `port`."""
    for addr in addresses:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection((addr, port), timeout=2) as s:
                    if s.recv(512).startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise LabFailure("postfix %s does not answer on %s:%d:\n%s"
                                 % (pf.hostname, addr, port,
                                    pf.maillog_tail()))
            time.sleep(0.1)


def merge_main_cf(text, settings):
    """The lab's main.cf text with `settings` replacing or added to its
    "name = value" lines (a name defined twice makes every Postfix
    program log a warning at start)."""
    merged = {}
    for line in text.splitlines():
        name, sep, value = line.partition(" = ")
        if sep:
            merged[name] = value
    merged.update(settings)
    return "".join("%s = %s\n" % kv for kv in merged.items())


class ReceiverPostfix(labpostfix.Postfix):
    """The lab's Postfix MX with its limits raised for load."""

    EXTRA = {
        "default_process_limit": "1000",
        "in_flow_delay": "0",
        "smtpd_tls_loglevel": "0",
        "virtual_destination_concurrency_limit": "100",
        "qmgr_message_active_limit": "100000",
        "smtpd_soft_error_limit": "1000",
        "smtpd_hard_error_limit": "1000",
    }

    def main_cf(self, tls_files):
        """The lab's main.cf with the limits raised."""
        return merge_main_cf(super().main_cf(tls_files), self.EXTRA)

    def count_delivered(self):
        """Maildir files so far (cheap: a directory listing)."""
        n = 0
        for sub in ("new", "cur"):
            try:
                n += len(os.listdir(os.path.join(self.maildir, sub)))
            except OSError:
                pass
        return n


SENDER_MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
%d      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
tlsproxy  unix  -       -       n       -       0       tlsproxy
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
""" % INJECT_PORT


class SenderPostfix(labpostfix.Postfix):
    """Postfix as the sending MTA: DANE, DNSSEC through the lab resolver,
    concurrency raised, mail injected on hold and released at once."""

    def __init__(self, workdir, hostname, reuse, procs):
        """An instance on SENDER_MTA_ADDR; `procs` is default_process_limit."""
        super().__init__(workdir, hostname, [SENDER_MTA_ADDR], [])
        self.reuse = reuse
        self.procs = procs
        self.header_checks = os.path.join(self.base, "header_checks")

    def main_cf(self, tls_files):
        """A sending-only main.cf (the lab's receive settings overridden)."""
        extra = {
            "default_transport": "smtp",
            "relay_transport": "relay",
            "virtual_mailbox_domains": "",
            "mydestination": "",
            "smtp_tls_security_level": "dane",
            "smtp_dns_support_level": "dnssec",
            "smtp_tls_connection_reuse": "yes" if self.reuse else "no",
            "smtp_tls_session_cache_database":
                "btree:${data_directory}/smtp_scache",
            "smtp_tls_loglevel": "0",
            "smtp_host_lookup": "dns",
            # Everything the injection smtpd takes goes on hold until the
            # timed release.
            "smtpd_client_restrictions": "check_client_access static:HOLD",
            "smtpd_recipient_restrictions": "permit_mynetworks, reject",
            "mynetworks": "127.0.0.0/8 %s/32" % SENDER_MTA_ADDR,
            # No rewriting and no Received header of ours: what reaches
            # the sink is byte for byte what mxclient would send.
            "local_header_rewrite_clients": "",
            "header_checks": "regexp:" + self.header_checks,
            # Concurrency raised: Postfix at its best on this machine.
            "default_process_limit": str(self.procs),
            "smtp_destination_concurrency_limit": "100",
            "default_destination_concurrency_limit": "100",
            "initial_destination_concurrency": "20",
                "qmgr_message_active_limit": "100000",
            "qmgr_message_recipient_limit": "100000",
            "in_flow_delay": "0",
            "smtpd_client_connection_count_limit": "0",
            # A failure is counted once, not retried within the run, and
            # never turned into a bounce that would need delivering.
            "soft_bounce": "yes",
            "queue_run_delay": "3600s",
            "minimal_backoff_time": "3600s",
            "maximal_backoff_time": "3600s",
        }
        return merge_main_cf(super().main_cf(tls_files), extra)

    def configure(self):
        """The lab's directories and files, then our master.cf."""
        super().configure()
        with open(self.header_checks, "w") as f:
            f.write("/^Received:/ IGNORE\n")
        path = os.path.join(self.config_dir, "master.cf")
        with open(path, "w") as f:
            f.write(SENDER_MASTER_CF)
        past = time.time() - 60
        for p in (path, self.header_checks):
            os.utime(p, (past, past))

    def postcmd(self, *argv):
        """Runs a Postfix admin command against this instance."""
        p = subprocess.run([argv[0], "-c", self.config_dir] + list(argv[1:]),
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise LabFailure("%s failed: %s" % (" ".join(argv),
                                                (p.stdout + p.stderr).strip()))
        return p.stdout

    def held(self):
        """Messages in the hold queue."""
        return len(self.queue_files("hold"))


def postfix_cpu(pf):
    """A Postfix instance's CPU so far: its master (with every child it
    reaped) and every live descendant, from /proc."""
    with open(os.path.join(pf.queue_dir, "pid", "master.pid")) as f:
        return measure.tree_cpu(int(f.read().strip()))


def postfix_pss_kb(pf):
    """The instance's memory now: the sum of its processes' PSS (shared
    pages split among them), from /proc/<pid>/smaps_rollup."""
    with open(os.path.join(pf.queue_dir, "pid", "master.pid")) as f:
        return measure.tree_pss_kb(int(f.read().strip()))
