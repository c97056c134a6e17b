"""The integration lab: real DNS and SMTP servers for one test case.

A case describes its world (zones, Postfix MX hosts, scripted SMTP servers,
blackholed addresses), calls start(), runs the client under test, and checks
what the servers saw.  Everything runs inside the case's own network
namespace (see labnet.py and labrun.py); this module only assumes it is
there.

    with Lab("basic") as lab:
        lab.zone("pref.example", records=["@ MX 10 mx1", "mx1 A 192.0.2.10"])
        mx = lab.postfix("mx1.pref.example", ["192.0.2.10"], ["pref.example"])
        lab.start()
        run = lab.run_client(["user@pref.example"], b"Subject: hi\\n\\nhi\\n")

Every process is tracked by pid and stopped in close(); the temporary
directory is removed unless MXC_LAB_KEEP=1.
"""

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import labdns
import labfinger
import labnet
import labpki
import labpostfix
import labsmtp

RESOLVER = labdns.RESOLVER_ADDR
SENDER = "lab-sender@sender.example"

# How much of each output (client stdout, stderr) a failing case prints.
DIAG_LIMIT = 6000


class LabError(Exception):
    """The lab could not be built: a failure, never a skip."""


class CaseFailure(AssertionError):
    """A check of the case did not hold."""


def expect(condition, message):
    """The one assertion of the lab: fails the case with `message`."""
    if not condition:
        raise CaseFailure(message)


# The client's exit statuses (sysexits.h).
EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_NOUSER = 67
EX_NOHOST = 68
EX_UNAVAILABLE = 69
EX_TEMPFAIL = 75


def expect_refused(address, port=25):
    """Lab sanity: nothing listens at address:port, a connect is refused
    at once (so a case about refusal really tests one)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect((address, port))
        except ConnectionRefusedError:
            return
        except OSError as e:
            raise CaseFailure("lab: %s:%d not refusing: %s"
                              % (address, port, e))
    raise CaseFailure("lab: %s:%d accepts connections" % (address, port))


def expect_blackholed(address, port=25):
    """Lab sanity: a SYN to address:port vanishes (the connect hangs)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        try:
            s.connect((address, port))
        except socket.timeout:
            return
        except OSError as e:
            raise CaseFailure("lab: %s:%d not blackholed: %s"
                              % (address, port, e))
    raise CaseFailure("lab: %s:%d accepts connections" % (address, port))


def expect_exit(run, code):
    """The client's exit status must be exactly `code`."""
    expect(run.exit == code, "client exit status %r, expected %d"
           % (run.exit, code))


def expect_result(run, recipient, status, code):
    """The recipient's JSON line must have this status and exit value."""
    expect(not run.bad_lines, "stdout lines that are not JSON objects: %r"
           % run.bad_lines[:3])
    rec = run.record_for(recipient)
    expect(rec.get("status") == status, "%s: status %r, expected %r"
           % (recipient, rec.get("status"), status))
    expect(rec.get("exit") == code, "%s: exit %r in JSON, expected %d"
           % (recipient, rec.get("exit"), code))
    return rec


class ClientRun:
    """One run of the client under test: argv, exit, output, timing."""

    def __init__(self, argv, exit_code, stdout, stderr, elapsed):
        self.argv = argv
        self.exit = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed
        self.records = []      # one dict per JSON line of stdout
        self.bad_lines = []    # stdout lines that were not JSON objects
        for line in stdout.splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                self.bad_lines.append(line)
                continue
            if isinstance(record, dict):
                self.records.append(record)
            else:
                self.bad_lines.append(line)

    def record_for(self, recipient):
        """The JSON result line for one recipient (case-insensitive)."""
        found = [r for r in self.records
                 if str(r.get("recipient", "")).lower() == recipient.lower()]
        expect(len(found) == 1, "expected exactly one JSON line for %s, got %d"
               % (recipient, len(found)))
        return found[0]

    def describe(self):
        """Everything about the run, for a failing case's diagnostics."""
        return ("client: %s\n  exit %s after %.2f s\n--- stdout ---\n%s\n"
                "--- stderr ---\n%s" % (
                    " ".join(self.argv), self.exit, self.elapsed,
                    clip(self.stdout), clip(self.stderr)))


def clip(text, limit=DIAG_LIMIT):
    """Keeps diagnostics readable: the end of long output matters most."""
    if len(text) <= limit:
        return text
    return "[... %d chars cut ...]\n" % (len(text) - limit) + text[-limit:]


def tail(path, lines=40, skip=None):
    """The last lines of a log file (without those containing `skip`),
    or a note that it is missing."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            kept = [l for l in f if not (skip and skip in l)]
        return "".join(kept[-lines:])
    except OSError:
        return "(no file %s)\n" % path


def unbound_log(workdir, lines=25):
    """unbound's log without the lab's own probe queries, which would
    otherwise bury the validation messages that explain a failure."""
    return tail(os.path.join(workdir, "unbound.log"), lines,
                skip=" info: %s " % labdns.PROBE_ADDR)


class Lab:
    """One case's world of servers, built in a temporary directory."""

    def __init__(self, name):
        self.name = name
        self.workdir = tempfile.mkdtemp(prefix="mxc-lab-%s-" % name)
        # Postfix runs as user postfix and must traverse this directory.
        os.chmod(self.workdir, 0o755)
        self.dns = labdns.DnsTree(self.workdir)
        self.postfixes = []
        self.servers = []
        self.blackholes = []
        self.extra_addresses = set()
        self.daemons = []          # (name, Popen, log path) for nsd, unbound
        self.client_runs = []
        self.trust_anchor = None
        self.unbound_conf = None   # start_dns(): kept for restart_unbound()
        self.started = False
        # Certificates made on demand (see labpki): Lab.pki.issue(...).
        self.pki = labpki.Pki(os.path.join(self.workdir, "pki"))
        self.finger = None         # labfinger.Finger, made on first use

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        """Stops everything, whether the case passed or not."""
        self.close()
        return False

    # --- describing the world (before start) ---

    def zone(self, name, signed=True, records=(), corrupt_rrsig=None,
             wrong_ds=False):
        """Adds a zone below example. (see labdns.Zone for the arguments)."""
        return self.dns.add(labdns.Zone(name, signed, records,
                                        corrupt_rrsig, wrong_ds))

    def servfail_name(self, name):
        """Makes `name` (below example.) answer SERVFAIL: a lame delegation."""
        self.dns.add_lame_delegation(name)
        return name

    def postfix(self, hostname, addresses, domains, credential=None):
        """Adds a Postfix MX on `addresses` accepting mail for `domains`,
        presenting `credential` (a labpki.Credential) or, by default, a
        self-signed certificate for `hostname`."""
        pf = labpostfix.Postfix(self.workdir, hostname, addresses, domains,
                                credential)
        self.postfixes.append(pf)
        return pf

    def smtp_server(self, address, script=None, port=25, credential=None):
        """Adds a scripted SMTP server (see scripted_smtp.DEFAULT_SCRIPT);
        with "tls" in the script it presents `credential` (a
        labpki.Credential) or a self-signed certificate."""
        cert = None
        if credential:
            cert = (credential.cert_file, credential.key_path)
        elif script and script.get("tls"):
            certdir = os.path.join(self.workdir, "cert-%s-%d"
                                   % (address.replace(":", "_"), port))
            os.makedirs(certdir)
            cert = labpostfix.make_certificate(certdir, "scripted.lab")
        server = labsmtp.ScriptedServer(self.workdir, address, script, port,
                                        cert)
        self.servers.append(server)
        return server

    def blackhole(self, address):
        """Makes TCP SYNs to address:25 vanish (the host looks unreachable)."""
        self.blackholes.append(address)

    def address(self, address):
        """Puts an address on lo that no zone or server mentions."""
        self.extra_addresses.add(address)

    # --- running it ---

    def start(self):
        """Brings up addresses, DNS, Postfix and scripted servers; waits
        until each answers.  Raises LabError with the logs if one does not."""
        self.started = True
        try:
            addrs = set(self.dns.addresses()) | self.extra_addresses
            addrs |= {labdns.RESOLVER_ADDR, labdns.AUTH_ADDR,
                      labdns.LAME_ADDR, labdns.PROBE_ADDR}
            for pf in self.postfixes:
                addrs |= set(pf.addresses)
            addrs |= {s.address for s in self.servers}
            addrs |= set(self.blackholes)
            labnet.add_addresses(addrs)
            if self.blackholes:
                labnet.blackhole(self.blackholes)
            self.start_dns()
            for pf in self.postfixes:
                pf.start()
            for server in self.servers:
                server.start()
            for pf in self.postfixes:
                self.wait_for_smtp(pf)
        except (RuntimeError, OSError, ValueError,
                subprocess.SubprocessError) as e:
            raise LabError("lab %s: cannot start its servers: %s"
                           % (self.name, e)) from e

    def start_dns(self):
        """Signs the zones, starts nsd and unbound, waits for a validated
        answer (the AD bit) from unbound."""
        self.trust_anchor = self.dns.build()
        nsd_conf = os.path.join(self.workdir, "nsd.conf")
        with open(nsd_conf, "w") as f:
            f.write(labdns.nsd_config(self.workdir, self.dns.zones.values()))
        unbound_conf = os.path.join(self.workdir, "unbound.conf")
        self.unbound_conf = unbound_conf
        with open(unbound_conf, "w") as f:
            f.write(labdns.unbound_config(
                self.workdir, self.trust_anchor,
                [z.name for z in self.dns.zones.values()
                 if z.resolver_insecure]))

        self.start_daemon("nsd", ["nsd", "-d", "-c", nsd_conf])
        self.wait_for_dns("nsd", labdns.AUTH_ADDR, need_ad=False)
        if self.dns.lame:
            lame_conf = os.path.join(self.workdir, "nsd-lame.conf")
            with open(lame_conf, "w") as f:
                f.write(labdns.nsd_config(self.workdir, [], labdns.LAME_ADDR,
                                          "nsd-lame"))
            self.start_daemon("nsd-lame", ["nsd", "-d", "-c", lame_conf])
            self.wait_for_dns("nsd-lame", labdns.LAME_ADDR, need_ad=False,
                              rcode="REFUSED")
        self.start_unbound(unbound_conf)

    def start_unbound(self, conf):
        """Starts unbound and waits for a validated answer; restarts it
        once (with an empty cache) if the first start does not validate.

        Seen once in hundreds of runs on a loaded machine: unbound kept
        answering SERVFAIL for example. SOA for 10 s.  The first failure's
        log is printed, so the cause stays visible even when the retry
        works.
        """
        self.start_daemon("unbound", ["unbound", "-d", "-c", conf])
        try:
            self.wait_for_dns("unbound", labdns.RESOLVER_ADDR, need_ad=True,
                              timeout=5)
            return
        except RuntimeError as e:
            print("lab: unbound did not validate at first; restarting it:\n%s"
                  % e)
        self.stop_daemon("unbound")
        first_log = os.path.join(self.workdir, "unbound.log")
        if os.path.exists(first_log):
            os.rename(first_log, os.path.join(self.workdir, "unbound-first.log"))
        self.start_daemon("unbound", ["unbound", "-d", "-c", conf])
        self.wait_for_dns("unbound", labdns.RESOLVER_ADDR, need_ad=True)

    def stop_daemon(self, name):
        """Stops a daemon started by start_daemon, by its pid."""
        for daemon in [d for d in self.daemons if d[0] == name]:
            proc = daemon[1]
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self.daemons.remove(daemon)

    def start_daemon(self, name, argv):
        """Starts a foreground daemon as our child, output to a log file."""
        log_path = os.path.join(self.workdir, name + ".out")
        with open(log_path, "w") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        self.daemons.append((name, proc, log_path))

    def wait_for_dns(self, name, server, need_ad, rcode="NOERROR", timeout=10):
        """Polls `server` for example. SOA until it answers `rcode`
        (with the AD bit, if `need_ad`: the chain of trust works)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            proc = [p for n, p, _ in self.daemons if n == name][-1]
            if proc.poll() is not None:
                raise RuntimeError("%s exited (%d) at start:\n%s%s" % (
                    name, proc.returncode,
                    tail(os.path.join(self.workdir, name + ".out")),
                    tail(os.path.join(self.workdir, name + ".log"))))
            last = labdns.probe(server, "example.", "SOA")
            if last and last[0] == rcode and (not need_ad or last[1]):
                return
            time.sleep(0.05)
        log = unbound_log(self.workdir) if name == "unbound" else \
            tail(os.path.join(self.workdir, name + ".log"))
        raise RuntimeError("%s gave no %sanswer for example. SOA (last: %s):\n%s"
                           % (name, "validated " if need_ad else "", last, log))

    def wait_for_smtp(self, pf, timeout=10):
        """Waits until a Postfix instance accepts on each of its addresses."""
        for addr in pf.addresses:
            family = socket.AF_INET6 if ":" in addr else socket.AF_INET
            deadline = time.monotonic() + timeout
            while True:
                s = socket.socket(family, socket.SOCK_STREAM)
                s.settimeout(1)
                try:
                    s.connect((addr, 25))
                    greeting = s.recv(512)
                    s.sendall(b"QUIT\r\n")
                    if greeting.startswith(b"220"):
                        break
                except OSError:
                    pass
                finally:
                    s.close()
                if time.monotonic() > deadline:
                    raise RuntimeError("postfix %s does not answer on %s:\n%s"
                                       % (pf.hostname, addr, pf.maillog_tail()))
                time.sleep(0.1)

    def close(self):
        """Stops every process by pid, then removes (or keeps) the workdir."""
        for server in self.servers:
            server.stop()
        for pf in self.postfixes:
            pf.stop()
        for name in reversed([d[0] for d in self.daemons]):
            self.stop_daemon(name)
        if os.environ.get("MXC_LAB_KEEP") == "1":
            print("lab %s: files kept in %s" % (self.name, self.workdir))
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- the client under test ---

    def message_file(self, message):
        """Stores a message (bytes) for the client's stdin; returns its path."""
        path = os.path.join(self.workdir, "message-%d.eml"
                            % len(self.client_runs))
        with open(path, "wb") as f:
            f.write(message)
        return path

    def run_client(self, recipients, message, args=(), sender=SENDER,
                   json_output=True, timeout=60, resolvers=(RESOLVER,),
                   env=None):
        """Runs $MXCLIENT against the lab resolver (or `resolvers`, in
        order), with `env` added to the environment; returns a
        ClientRun."""
        argv = [client_path("MXCLIENT")]
        for resolver in resolvers:
            argv += ["--resolver", resolver]
        argv += ["--trust-anchor", self.trust_anchor]
        if json_output:
            argv.append("--json")
        if sender is not None:
            argv += ["-f", sender]
        argv += list(args) + list(recipients)
        return self.run_program(argv, message, timeout, env)

    def run_example(self, recipients, message, sender=SENDER, timeout=60):
        """Runs the example program ($MXC_EXAMPLE) against the lab."""
        argv = [client_path("MXC_EXAMPLE"), "--resolver", RESOLVER,
                "--trust-anchor", self.trust_anchor, sender] + list(recipients)
        return self.run_program(argv, message, timeout)

    def run_program(self, argv, message, timeout, env=None):
        """Runs one program with the message on stdin, timing it;
        `env` is added to the environment."""
        full_env = dict(os.environ, **env) if env else None
        with open(self.message_file(message), "rb") as stdin:
            start = time.monotonic()
            try:
                p = subprocess.run(argv, stdin=stdin, capture_output=True,
                                   timeout=timeout, env=full_env)
                code, out, err = p.returncode, p.stdout, p.stderr
            except subprocess.TimeoutExpired as e:
                code = "killed after %d s timeout" % timeout
                out, err = e.stdout or b"", e.stderr or b""
            elapsed = time.monotonic() - start
        run = ClientRun(argv, code, out.decode("utf-8", "replace"),
                        err.decode("utf-8", "replace"), elapsed)
        self.client_runs.append(run)
        return run

    def rewrite_zone(self, name, records):
        """Replaces an unsigned zone's records while the lab runs (a new
        SOA serial) and has nsd reload it; returns once nsd serves the
        new serial."""
        zone = self.dns.zones[labdns.fqdn(name)]
        if zone.signed:
            raise LabError("rewrite_zone works on unsigned zones only")
        zone.records = list(records)
        zone.serial += 1
        with open(zone.zonefile, "w", encoding="utf-8") as f:
            f.write(self.dns.zone_text(zone))
        self.reload_zone(zone)

    def resign_zone(self, name):
        """Signs a signed zone again while the lab runs, with a new ZSK
        and its old KSK (the parent's DS stays valid), under a new SOA
        serial, and has nsd reload it.  Returns (old, new) ZSK key tags
        once nsd serves the new serial.  unbound keeps the old DNSKEY
        RRset in its cache: restart_unbound() forgets it."""
        zone = self.dns.zones[labdns.fqdn(name)]
        try:
            tags = self.dns.resign_new_zsk(zone)
        except (RuntimeError, ValueError) as e:
            raise LabError("cannot sign %s again: %s" % (zone.name, e)) from e
        self.reload_zone(zone)
        return tags

    def reload_zone(self, zone):
        """Has nsd (SIGHUP, by pid) load the zone files again; returns once
        it serves `zone` with its current SOA serial."""
        nsd = [p for n, p, _ in self.daemons if n == "nsd"][-1]
        nsd.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            got = labdns.drill(zone.name, "SOA", server=labdns.AUTH_ADDR,
                               dnssec=False, timeout=1)
            if got and any(" %d 3600 " % zone.serial in line
                           for line in got[2]):
                return
            time.sleep(0.1)
        raise LabError("nsd did not reload zone %s (serial %d)"
                       % (zone.name, zone.serial))

    def restart_unbound(self):
        """Stops unbound (by pid) and starts it again with the same
        configuration: an empty cache, no DNSKEY or answer kept from
        before.  Returns once it answers validated again.  Its log file
        is appended to, so resolver_queries() still sees every query."""
        self.stop_daemon("unbound")
        try:
            self.start_unbound(self.unbound_conf)
        except (RuntimeError, OSError) as e:
            raise LabError("unbound did not start again: %s" % e) from e

    def posttls_finger(self, destination, level="dane"):
        """Runs Postfix's posttls-finger against a lab domain; returns a
        labfinger.FingerRun with its DANE verdict."""
        if self.finger is None:
            self.finger = labfinger.Finger(self.workdir)
        return self.finger.run(destination, level)

    def resolver_queries(self):
        """The (name, type) pairs unbound was asked, from its query log,
        except the lab's own checks (asked from PROBE_ADDR)."""
        queries = []
        with open(os.path.join(self.workdir, "unbound.log"),
                  encoding="utf-8", errors="replace") as f:
            for line in f:
                # "[time] unbound[pid:0] info: 198.51.100.53 name. MX IN"
                fields = line.split(" info: ", 1)[-1].split()
                if len(fields) == 4 and fields[3] == "IN" and \
                        is_address(fields[0]) and \
                        fields[0] != labdns.PROBE_ADDR:
                    queries.append((fields[1].lower(), fields[2].upper()))
        return queries

    # --- diagnostics ---

    def diagnostics(self):
        """What a failing case prints: client output, transcripts, logs."""
        parts = ["==== lab %s diagnostics (workdir %s)" % (self.name,
                                                           self.workdir)]
        for run in self.client_runs:
            parts.append(run.describe())
        for run in self.finger.runs if self.finger else []:
            parts.append(run.describe())
        for server in self.servers:
            parts.append(server.describe())
        for pf in self.postfixes:
            parts.append("--- postfix %s maillog (tail) ---\n%s"
                         % (pf.hostname, pf.maillog_tail()))
            if pf.deferred():
                parts.append("    deferred/held: %s" % pf.deferred())
        tlsa = self.dns.records_of_type("TLSA")
        if tlsa:
            parts.append("--- TLSA records published ---\n" + "\n".join(
                "%s TLSA %s" % (owner, labpki.short(data))
                for owner, data in tlsa))
        if self.started:
            counters = labnet.udp_counters()
            parts.append("UDP counters: %s" % counters)
            if counters.get("RcvbufErrors"):
                parts.append("UDP sockets (skmem d = drops):\n"
                             + labnet.udp_sockets())
            parts.append("--- unbound.log (tail, lab probes left out) ---\n"
                         + unbound_log(self.workdir))
            parts.append("--- nsd.log (tail) ---\n"
                         + tail(os.path.join(self.workdir, "nsd.log"), 10))
        return "\n".join(parts)


def is_address(text):
    """Tells whether text is an IP address (to pick log lines apart)."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def client_path(variable):
    """The program under test, from the environment meson sets."""
    path = os.environ.get(variable)
    if not path:
        raise LabError("%s is not set: run the lab through `meson test`"
                       % variable)
    if not os.access(path, os.X_OK):
        raise LabError("%s=%s is not an executable (not built yet?)"
                       % (variable, path))
    return path
