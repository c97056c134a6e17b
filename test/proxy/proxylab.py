"""The proxy lab: SOCKS5 proxies, an SSH server and DANE MX hosts.

Built on the integration lab (test/lab/, imported read-only): a case gets
the usual Lab (zones, Postfix, scripted servers) plus a ProxyWorld that
starts the proxies inside the same namespace, reads their logs, and stops
every process it started by pid.

    world = ProxyWorld(lab)
    pf = world.dane_mx("socks.example", "192.0.2.21")
    lab.start()
    socks = world.microsocks(bind=MICROSOCKS_ADDR)
    run = lab.run_client([...], msg, ["--proxy", socks.url()])

Address plan (documentation addresses, beside test/lab/README.md's):

    198.51.100.80   microsocks            198.51.100.83   socks_front.py
    198.51.100.81   danted                198.51.100.84   tee_relay.py source
    198.51.100.82   sshd                  198.51.100.85   a proxy that is down
    198.51.100.86   bad_socks.py (a misbehaving SOCKS5 proxy, one port a mode)

Python standard library only; keys and certificates are made at test time.
"""

import hashlib
import ipaddress
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))

import labnet        # noqa: E402
import labpostfix    # noqa: E402
from lab import LabError, tail   # noqa: E402

MICROSOCKS_ADDR = "198.51.100.80"
DANTE_ADDR = "198.51.100.81"
SSHD_ADDR = "198.51.100.82"
FRONT_ADDR = "198.51.100.83"
RELAY_SOURCE = "198.51.100.84"
DEAD_PROXY_ADDR = "198.51.100.85"
BAD_SOCKS_ADDR = "198.51.100.86"
SOCKS_PORT = 1080
SSH_PORT = 22

PROXY_ADDRESSES = (MICROSOCKS_ADDR, DANTE_ADDR, SSHD_ADDR, FRONT_ADDR,
                   RELAY_SOURCE, DEAD_PROXY_ADDR, BAD_SOCKS_ADDR)

TEE_RELAY = os.path.join(HERE, "tee_relay.py")
SOCKS_FRONT = os.path.join(HERE, "socks_front.py")
BAD_SOCKS = os.path.join(HERE, "bad_socks.py")

# main.cf settings that name the TLS certificate; DanePostfix replaces them.
TLS_FILE_SETTINGS = ("smtpd_tls_cert_file", "smtpd_tls_key_file",
                     "smtpd_tls_chain_files", "smtpd_tls_eccert_file",
                     "smtpd_tls_eckey_file")


# --- DANE for a Postfix MX -------------------------------------------------

def spki_sha256(cert_path):
    """SHA-256 of the certificate's SubjectPublicKeyInfo (DER), in hex: the
    association data of a TLSA "3 1 1" record, computed with openssl."""
    pem = subprocess.run(["openssl", "x509", "-in", cert_path, "-noout",
                          "-pubkey"], capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                         input=pem, capture_output=True, check=True).stdout
    return hashlib.sha256(der).hexdigest()


class DanePostfix(labpostfix.Postfix):
    """A lab Postfix whose self-signed certificate exists before the zones
    are signed, so a TLSA 3 1 1 record for it can be published.

    labpostfix makes its certificate only at start, after the DNS is built;
    this subclass makes one when the case describes the MX, and puts it in
    main.cf after the lab has written its own configuration.
    """

    def __init__(self, workdir, hostname, addresses, domains):
        super().__init__(workdir, hostname, addresses, domains)
        certdir = os.path.join(workdir, "dane-cert-" + self.hostname)
        os.makedirs(certdir)
        self.dane_cert, self.dane_key = labpostfix.make_certificate(
            certdir, self.hostname)
        self.tlsa = "3 1 1 " + spki_sha256(self.dane_cert)

    def configure(self):
        """The lab's configuration, with our certificate in main.cf."""
        super().configure()
        path = os.path.join(self.config_dir, "main.cf")
        with open(path, encoding="utf-8") as f:
            lines = [l for l in f
                     if l.split("=", 1)[0].strip() not in TLS_FILE_SETTINGS]
        lines += ["smtpd_tls_cert_file = %s\n" % self.dane_cert,
                  "smtpd_tls_key_file = %s\n" % self.dane_key]
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(lines)
        # Postfix naps while a config file looks freshly written.
        past = time.time() - 60
        os.utime(path, (past, past))


# --- processes --------------------------------------------------------------

class Proc:
    """One process the proxy world started, with its log."""

    def __init__(self, name, popen, log_path):
        self.name = name
        self.popen = popen
        self.log_path = log_path
        self.pid = popen.pid

    def log(self):
        """The whole log (stdout and stderr) so far."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def processes():
    """Every process of this PID namespace: dicts with pid, ppid, state
    (R, S, Z...), comm and argv (empty for a zombie)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as f:
                stat = f.read().decode("utf-8", "replace")
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = [a.decode("utf-8", "replace")
                        for a in f.read().split(b"\0") if a]
        except OSError:
            continue   # it just ended
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        found.append({"pid": int(entry), "state": fields[0],
                      "ppid": int(fields[1]), "comm": comm, "argv": argv})
    return found


def describe_processes(procs):
    """One line per process, for messages."""
    return "; ".join("%d %s %s %r" % (p["pid"], p["state"], p["comm"],
                                      " ".join(p["argv"])) for p in procs)


def wait_for_tcp(address, port, proc, timeout=10):
    """Waits until address:port accepts; fails early if `proc` exited."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    deadline = time.monotonic() + timeout
    while True:
        if proc.popen.poll() is not None:
            raise LabError("%s exited (%s) at start:\n%s"
                           % (proc.name, proc.popen.returncode, proc.log()))
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            try:
                s.connect((address, port))
                return
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise LabError("%s does not accept on %s port %d:\n%s"
                           % (proc.name, address, port, proc.log()))
        time.sleep(0.05)


def is_ip(text):
    """Tells whether text is an IP address (not a name)."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def command_template(words):
    """A --proxy-command template from words: each quoted as a shell would
    read it (the client splits the same way).  A word with %h, %p or %n
    is a template word and keeps its placeholders; in any other word a
    literal % is doubled."""
    out = []
    for w in words:
        if not re.search("%[hpn]", w):
            w = w.replace("%", "%%")
        out.append(shlex.quote(w))
    return " ".join(out)


# --- the proxies ------------------------------------------------------------

class Socks:
    """A running SOCKS5 proxy: where it is and what it logged."""

    def __init__(self, proc, address, port, user=None, password=None):
        self.proc = proc
        self.address = address
        self.port = port
        self.user = user
        self.password = password

    def url(self, password=None):
        """The client's --proxy value (with credentials if it has them)."""
        auth = ""
        if self.user:
            auth = "%s:%s@" % (self.user, password or self.password)
        return "socks5://%s%s:%d" % (auth, self.address, self.port)

    def targets(self):
        """(host, port) of each connection the proxy made, from its log."""
        if self.proc.name.startswith("microsocks"):
            return microsocks_targets(self.proc.log())
        if self.proc.name.startswith("danted"):
            return dante_targets(self.proc.log())
        raise ValueError("no log reader for %s" % self.proc.name)


def microsocks_targets(log):
    """microsocks logs "client[FD] PEER: connected to HOST:PORT" for each
    request it served, HOST exactly as the request gave it (name or IP)."""
    found = []
    for line in log.splitlines():
        if ": connected to " in line:
            host, _, port = line.split(": connected to ", 1)[1].rpartition(":")
            found.append((host, int(port)))
    return found


def dante_targets(log):
    """danted logs "tcp/connect [: CLIENT INTERNAL -> EXTERNAL DEST" when a
    request is passed; DEST is ADDRESS.PORT (a name would appear as such)."""
    found = []
    for line in log.splitlines():
        if "tcp/connect [:" in line:
            dest = line.split()[-1]
            host, _, port = dest.rpartition(".")
            found.append((host, int(port)))
    return found


def dante_config(workdir, address, port):
    """danted.conf: no authentication, one address in and out, every
    CONNECT passed and logged with its destination."""
    return "\n".join([
        "logoutput: %s/danted.log" % workdir,
        "errorlog: %s/danted.log" % workdir,
        "internal: %s port = %d" % (address, port),
        "external: %s" % address,
        "clientmethod: none",
        "socksmethod: none",
        "user.privileged: root",
        "user.unprivileged: nobody",
        "client pass {",
        "    from: 0.0.0.0/0 to: 0.0.0.0/0",
        "    log: connect disconnect error",
        "}",
        "socks pass {",
        "    from: 0.0.0.0/0 to: 0.0.0.0/0",
        "    command: connect",
        "    log: connect disconnect error",
        "}",
    ]) + "\n"


class Front:
    """socks_front.py: a logging pass-through before a real SOCKS5 proxy."""

    def __init__(self, proc, address, port, log_path):
        self.proc = proc
        self.address = address
        self.port = port
        self.log_path = log_path

    def url(self):
        """The client's --proxy value."""
        return "socks5://%s:%d" % (self.address, self.port)

    def events(self, kind=None):
        """The logged events (dicts), optionally only one kind."""
        found = []
        with open(self.log_path, encoding="utf-8") as f:
            for line in f:
                ev = json.loads(line)
                if kind is None or ev["event"] == kind:
                    found.append(ev)
        return found

    def reply_for(self, conn):
        """The proxy's reply code on connection `conn`, or None."""
        for ev in self.events("reply"):
            if ev["conn"] == conn:
                return ev["rep"]
        return None


class Sshd:
    """A running OpenSSH server and the files a client needs to use it."""

    def __init__(self, proc, address, port, client_key, known_hosts,
                 log_path):
        self.proc = proc
        self.address = address
        self.port = port
        self.client_key = client_key
        self.known_hosts = known_hosts
        self.log_path = log_path

    def command(self, known_hosts=None):
        """The --proxy-command: ssh -W to the MX through this server."""
        return command_template([
            "ssh", "-F", "none", "-i", self.client_key,
            "-o", "IdentitiesOnly=yes",
            "-o", "UserKnownHostsFile=" + (known_hosts or self.known_hosts),
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
            "-p", str(self.port), "-W", "%h:%p", "root@" + self.address])

    def log(self):
        """sshd's log (-E)."""
        return tail(self.log_path, 400)

    def forwards(self):
        """(host, port) of each direct-tcpip (-W) request it served."""
        found = []
        for line in self.log().splitlines():
            # "debug1: server_request_direct_tcpip: originator 127.0.0.1
            #  port 65535, target 192.0.2.27 port 25"
            if "server_request_direct_tcpip" in line and "target " in line:
                words = line.split("target ", 1)[1].split()
                found.append((words[0], int(words[2])))
        return found


class ProxyWorld:
    """The proxies of one case, on top of its Lab.

    Adds the proxy addresses to the lab, starts processes after lab.start(),
    stops them by pid in close(), and adds their logs to the lab's
    diagnostics (the Lab instance's diagnostics() is wrapped, the lab
    library itself is not changed).
    """

    def __init__(self, lab):
        self.lab = lab
        self.workdir = lab.workdir
        self.procs = []
        self.notes = []            # (title, text function) for diagnostics
        self.run_overlay = None    # our overlay on /run, for sshd
        for addr in PROXY_ADDRESSES:
            lab.address(addr)
        lab_diagnostics = lab.diagnostics

        def diagnostics():
            """The lab's diagnostics, then the proxies' logs."""
            return lab_diagnostics() + "\n" + self.diagnostics()
        lab.diagnostics = diagnostics

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # --- MX hosts ---

    def dane_mx(self, domain, v4, v6=None):
        """A signed zone with one MX (mx.DOMAIN) on a Postfix that presents
        a self-signed certificate named by a TLSA 3 1 1 record."""
        addrs = [a for a in (v4, v6) if a]
        pf = DanePostfix(self.workdir, "mx." + domain, addrs, [domain])
        records = ["@ MX 10 mx", "mx A %s" % v4,
                   "_25._tcp.mx TLSA %s" % pf.tlsa]
        if v6:
            records.append("mx AAAA %s" % v6)
        self.lab.zone(domain, records=records)
        self.lab.postfixes.append(pf)
        return pf

    # --- processes ---

    def spawn(self, name, argv, stdin=subprocess.DEVNULL):
        """Starts a process of ours, stdout and stderr to NAME.log in the
        workdir."""
        log_path = os.path.join(self.workdir, name + ".log")
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(argv, stdin=stdin, stdout=log,
                                     stderr=subprocess.STDOUT)
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def stop(self, proc):
        """Stops one process by its pid: SIGTERM, then SIGKILL."""
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGTERM)
            try:
                proc.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
        if proc.popen.stdin:
            proc.popen.stdin.close()

    def close(self):
        """Stops everything it started (newest first), undoes the /run
        overlay."""
        for proc in reversed(self.procs):
            self.stop(proc)
        if self.run_overlay:
            subprocess.run(["umount", "/run"], capture_output=True)
            self.run_overlay = None

    def microsocks(self, address=MICROSOCKS_ADDR, port=SOCKS_PORT, user=None,
                   password=None, bind=None):
        """microsocks on address:port; with `bind`, its connections to the
        MX come from that address (so Postfix can tell them apart)."""
        argv = ["microsocks", "-i", address, "-p", str(port)]
        if user:
            argv += ["-u", user, "-P", password]
        if bind:
            argv += ["-b", bind]
        proc = self.spawn("microsocks-%s" % address, argv)
        wait_for_tcp(address, port, proc)
        return Socks(proc, address, port, user, password)

    def dante(self, address=DANTE_ADDR, port=SOCKS_PORT):
        """danted in the foreground, no authentication, logging requests."""
        conf = os.path.join(self.workdir, "danted.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(dante_config(self.workdir, address, port))
        pidfile = os.path.join(self.workdir, "danted.pid")
        proc = self.spawn("danted-out",
                          ["danted", "-f", conf, "-p", pidfile, "-N", "1"])
        # Its requests go to logoutput; read that file as its log.
        proc.log_path = os.path.join(self.workdir, "danted.log")
        proc.name = "danted"
        wait_for_tcp(address, port, proc)
        return Socks(proc, address, port)

    def front(self, upstream, address=FRONT_ADDR, port=SOCKS_PORT):
        """socks_front.py on address:port, passing everything to the
        Socks `upstream` and logging each request."""
        log_path = os.path.join(self.workdir, "socks-front.jsonl")
        proc = self.spawn("socks-front", [
            sys.executable, SOCKS_FRONT, "--listen", address, "--port",
            str(port), "--upstream", "%s:%d" % (upstream.address,
                                                upstream.port),
            "--log", log_path])
        wait_for_tcp(address, port, proc)
        front = Front(proc, address, port, log_path)
        self.notes.append(("socks_front log", lambda: tail(log_path, 60)))
        return front

    def bad_socks(self, modes, address=BAD_SOCKS_ADDR):
        """bad_socks.py on `address`, one port per mode (`modes`: mode ->
        port); returns the path of its connection log."""
        log_path = os.path.join(self.workdir, "bad-socks.jsonl")
        argv = [sys.executable, BAD_SOCKS, "--listen", address,
                "--log", log_path]
        for mode, port in modes.items():
            argv += ["--mode", "%s=%d" % (mode, port)]
        proc = self.spawn("bad-socks", argv)
        for port in modes.values():
            wait_for_tcp(address, port, proc)
        self.notes.append(("bad_socks log", lambda: tail(log_path, 60)))
        return log_path

    def sshd(self, address=SSHD_ADDR, port=SSH_PORT):
        """An OpenSSH server with a fresh host key, and a client key it
        accepts for root; known_hosts for the client is written from the
        host key."""
        d = os.path.join(self.workdir, "ssh")
        os.makedirs(d)
        keys = {}
        for name in ("host", "client", "stranger"):
            path = os.path.join(d, name + "_key")
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                            "-C", "lab-" + name, "-f", path],
                           check=True, capture_output=True)
            keys[name] = path
        with open(keys["client"] + ".pub", encoding="ascii") as f:
            client_pub = f.read()
        authorized = os.path.join(d, "authorized_keys")
        with open(authorized, "w", encoding="ascii") as f:
            f.write(client_pub)
        known_hosts = os.path.join(d, "known_hosts")
        self.write_known_hosts(known_hosts, keys["host"], address, port)
        # A known_hosts naming another key: ssh must refuse the server.
        wrong = os.path.join(d, "known_hosts.wrong")
        self.write_known_hosts(wrong, keys["stranger"], address, port)
        log_path = os.path.join(d, "sshd.log")
        conf = os.path.join(d, "sshd_config")
        with open(conf, "w", encoding="ascii") as f:
            f.write("\n".join([
                "ListenAddress %s:%d" % (address, port),
                "HostKey %s" % keys["host"],
                "PidFile %s" % os.path.join(d, "sshd.pid"),
                "AuthorizedKeysFile %s" % authorized,
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "AllowTcpForwarding yes",
                "LogLevel DEBUG1",
            ]) + "\n")
        self.privsep_dir()
        proc = self.spawn("sshd", ["/usr/sbin/sshd", "-D", "-f", conf,
                                   "-E", log_path])
        wait_for_tcp(address, port, proc)
        sshd = Sshd(proc, address, port, keys["client"], known_hosts,
                    log_path)
        sshd.wrong_known_hosts = wrong
        self.notes.append(("sshd log", lambda: tail(log_path, 40)))
        return sshd

    @staticmethod
    def write_known_hosts(path, key, address, port):
        """A known_hosts file naming `key`'s public half for the server."""
        with open(key + ".pub", encoding="ascii") as f:
            kind, blob = f.read().split()[:2]
        host = address if port == 22 else "[%s]:%d" % (address, port)
        with open(path, "w", encoding="ascii") as f:
            f.write("%s %s %s\n" % (host, kind, blob))

    def privsep_dir(self):
        """sshd insists on /run/sshd (compiled in).  If the machine has
        none, an overlay on /run inside this case's private mount namespace
        provides it; the real /run is not touched."""
        if os.path.isdir("/run/sshd"):
            return
        if not (labnet.inside_namespace() and os.getpid() == 1):
            raise LabError("/run/sshd is missing and this is not a lab "
                           "namespace: refusing to mount over /run")
        upper = os.path.join(self.workdir, "run-upper")
        work = os.path.join(self.workdir, "run-work")
        os.makedirs(upper)
        os.makedirs(work)
        p = subprocess.run(["mount", "-t", "overlay", "lab-run", "-o",
                            "lowerdir=/run,upperdir=%s,workdir=%s"
                            % (upper, work), "/run"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise LabError("cannot overlay /run for sshd: %s" % p.stderr)
        self.run_overlay = True
        os.mkdir("/run/sshd", 0o755)

    # --- proxy commands ---

    def relay_command(self, tag, bind=RELAY_SOURCE):
        """The --proxy-command for tee_relay.py, and the log prefix its
        runs write to (see relay_logs)."""
        prefix = os.path.join(self.workdir, "relay-" + tag)
        words = [sys.executable, TEE_RELAY]
        if bind:
            words += ["--bind", bind]
        words += [prefix, "%h", "%p", "%n"]
        return command_template(words), prefix

    @staticmethod
    def relay_logs(prefix):
        """What each run of tee_relay.py with this prefix carried: a list
        of dicts with its metadata and "up"/"down" bytes."""
        found = []
        directory, base = os.path.split(prefix)
        for name in sorted(os.listdir(directory)):
            if not (name.startswith(base + "-") and name.endswith(".json")):
                continue
            stem = os.path.join(directory, name[:-len(".json")])
            with open(stem + ".json", encoding="utf-8") as f:
                run = json.load(f)
            for direction in ("up", "down"):
                try:
                    with open("%s-%s.bin" % (stem, direction), "rb") as f:
                        run[direction] = f.read()
                except OSError:
                    run[direction] = b""
            found.append(run)
        return found

    # --- diagnostics ---

    def diagnostics(self):
        """Logs of every process started here, for a failing case."""
        parts = ["==== proxy world"]
        for proc in self.procs:
            state = proc.popen.poll()
            parts.append("--- %s (pid %d, %s) log tail ---\n%s" % (
                proc.name, proc.pid,
                "running" if state is None else "exit %s" % state,
                tail(proc.log_path, 30)))
        for title, text in self.notes:
            parts.append("--- %s ---\n%s" % (title, text()))
        parts.append("--- processes now ---\n" + "\n".join(
            describe_processes([p]) for p in processes()))
        return "\n".join(parts)
