"""Postfix instances as the lab's real MX hosts, and reading what they got.

Each instance is `postfix -c DIR start` with its own config, queue and data
directories under the case's temporary directory, listening only on its own
addresses, accepting the case's domains as virtual mailbox domains and
delivering every recipient into ONE maildir.  virtual(8) adds a Delivered-To
header naming the recipient, which is how copies are told apart.

Postfix reports fatal errors only to its maillog (there is no syslog here),
so every failure message here points at that file.
"""

import email.parser
import email.policy
import os
import pwd
import grp
import subprocess
import time

# Deliveries are written as this user (virtual(8) refuses low uids).
MAILBOX_USER = "nobody"

# Postfix's own table of the files and directories it needs, with owners and
# modes; the lab makes the queue and data directories from it.
POSTFIX_FILES = "/etc/postfix/postfix-files"

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
25        inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
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
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def make_certificate(directory, name):
    """A self-signed ECDSA certificate for `name`; returns (cert, key) paths.

    Enough for STARTTLS to be offered and negotiated; nothing verifies it.
    """
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    p = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
         "-subj", "/CN=" + name, "-addext", "subjectAltName=DNS:" + name,
         "-keyout", key, "-out", cert],
        capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("openssl req failed: " + p.stderr.strip())
    os.chmod(key, 0o644)   # read by smtpd after it drops privileges
    return cert, key


class Postfix:
    """One Postfix instance: configuration, start/stop, its maildir."""

    def __init__(self, workdir, hostname, addresses, domains, credential=None):
        """`credential` (a labpki.Credential) is the key and certificate
        chain STARTTLS presents; without one, a self-signed certificate
        for `hostname` is made at start."""
        self.hostname = hostname.rstrip(".")
        self.credential = credential
        self.addresses = list(addresses)
        self.domains = [d.rstrip(".") for d in domains]
        self.base = os.path.join(workdir, "postfix-" + self.hostname)
        self.config_dir = os.path.join(self.base, "etc")
        self.queue_dir = os.path.join(self.base, "queue")
        self.data_dir = os.path.join(self.base, "data")
        self.mail_dir = os.path.join(self.base, "mail")
        self.maildir = os.path.join(self.mail_dir, "maildir")
        self.maillog = os.path.join(self.base, "maillog")
        self.started = False

    def main_cf(self, tls_files):
        """main.cf for a receive-only MX that never sends mail anywhere.

        `tls_files` are the TLS settings: a cert and key file, or one
        chain file (key, leaf, issuers)."""
        uid = pwd.getpwnam(MAILBOX_USER).pw_uid
        gid = grp.getgrgid(pwd.getpwnam(MAILBOX_USER).pw_gid).gr_gid
        inet = ", ".join(self.addresses)
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "meta_directory": "/etc/postfix",
            "myhostname": self.hostname,
            "mydomain": "example",
            "myorigin": "$myhostname",
            "mydestination": "",
            "relay_domains": "",
            "mynetworks": "127.0.0.0/8",
            "inet_interfaces": inet,
            "inet_protocols": "all",
            "virtual_mailbox_domains": " ".join(self.domains),
            "virtual_mailbox_base": self.mail_dir,
            "virtual_mailbox_maps": "static:maildir/",
            "virtual_uid_maps": "static:%d" % uid,
            "virtual_gid_maps": "static:%d" % gid,
            "virtual_minimum_uid": "1",
            # This MX never sends: bounces and anything else go nowhere.
            "default_transport": "error:lab MX sends no mail",
            "relay_transport": "error:lab MX sends no mail",
            "local_transport": "error:lab MX sends no mail",
            "strict_rfc821_envelopes": "yes",
            "smtputf8_enable": "yes",
            "message_size_limit": "100000000",
            "virtual_mailbox_limit": "0",
            "line_length_limit": "2048",
            "smtpd_peername_lookup": "no",
            "smtpd_client_connection_count_limit": "0",
            "smtpd_client_connection_rate_limit": "0",
            "smtpd_client_message_rate_limit": "0",
            "smtpd_client_recipient_rate_limit": "0",
            "smtpd_tls_security_level": "may",
            "smtpd_tls_received_header": "yes",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": "/var, /dev/stdout, " + self.base,
            "syslog_name": "postfix-" + self.hostname,
            "biff": "no",
            "alias_maps": "",
            "alias_database": "",
        }
        settings.update(tls_files)
        return "".join("%s = %s\n" % kv for kv in settings.items())

    def make_queue_directories(self):
        """Creates the queue and data directories as postfix-files says.

        `postfix start` would do this itself (post-install create-missing),
        but that shell script takes 2.5 s per instance; the directories are
        all it creates for a fresh queue.  With them in place, the
        `quick-start` marker tells `postfix start` to skip its checks.
        """
        where = {"$queue_directory": self.queue_dir,
                 "$data_directory": self.data_dir}
        owners = {"$mail_owner": "postfix", "root": "root", "-": None,
                  "$setgid_group": "postdrop"}
        with open(POSTFIX_FILES, encoding="utf-8") as f:
            entries = [l.strip().split(":") for l in f
                       if l.startswith(("$queue_directory", "$data_directory"))]
        for path, kind, owner, group, mode in (e[:5] for e in entries):
            if kind != "d":
                continue
            head, _, rest = path.partition("/")
            real = os.path.join(where[head], rest) if rest else where[head]
            os.makedirs(real, exist_ok=True)
            os.chmod(real, int(mode, 8))
            uid = pwd.getpwnam(owners[owner]).pw_uid
            gid = grp.getgrnam(owners[group]).gr_gid if owners[group] else -1
            os.chown(real, uid, gid)
        open(os.path.join(self.queue_dir, "quick-start"), "w").close()

    def configure(self):
        """Writes the instance's directories, certificate and config files."""
        for d in (self.config_dir, self.mail_dir):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.base, 0o755)
        self.make_queue_directories()
        user = pwd.getpwnam(MAILBOX_USER)
        os.chown(self.mail_dir, user.pw_uid, user.pw_gid)
        if self.credential:
            tls_files = {"smtpd_tls_chain_files":
                         self.credential.chain_file}
        else:
            cert, key = make_certificate(self.config_dir, self.hostname)
            tls_files = {"smtpd_tls_cert_file": cert,
                         "smtpd_tls_key_file": key}
        for name, text in (("main.cf", self.main_cf(tls_files)),
                           ("master.cf", MASTER_CF)):
            path = os.path.join(self.config_dir, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            # Postfix waits (300 ms naps) until a config file is older than
            # a second or two, in case an editor is still writing it.
            past = time.time() - 60
            os.utime(path, (past, past))

    def start(self):
        """Starts the instance; raises with the maillog tail on failure."""
        self.configure()
        p = subprocess.run(["postfix", "-c", self.config_dir, "start"],
                           capture_output=True, text=True)
        self.started = p.returncode == 0
        if p.returncode != 0:
            raise RuntimeError("postfix %s did not start (%d): %s\n%s"
                               % (self.hostname, p.returncode,
                                  (p.stdout + p.stderr).strip(),
                                  self.maillog_tail()))

    def stop(self):
        """Stops the instance; its children may linger as zombies, harmless."""
        if self.started:
            subprocess.run(["postfix", "-c", self.config_dir, "stop"],
                           capture_output=True)
            self.started = False

    def maillog_tail(self, lines=30):
        """The last lines of the maillog, where Postfix puts its errors."""
        try:
            with open(self.maillog, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no maillog at %s)" % self.maillog

    def queue_files(self, *queues):
        """Names of the queue files in the given queues (e.g. "active")."""
        found = []
        for q in queues:
            for root, _dirs, files in os.walk(os.path.join(self.queue_dir, q)):
                found += [os.path.join(root, f) for f in files]
        return found

    def settle(self, timeout=10):
        """Waits until everything accepted has left the queue (delivered,
        bounced or deferred), so the maildir can be counted exactly."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.queue_files("maildrop", "incoming", "active"):
                return True
            time.sleep(0.05)
        return False

    def deferred(self):
        """Queue files Postfix could not deliver (a lab fault, not a client's)."""
        return self.queue_files("deferred", "hold", "corrupt")

    def messages(self):
        """Every delivered message, oldest first, as Delivered objects."""
        found = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir, sub)
            if not os.path.isdir(d):
                continue
            for name in os.listdir(d):
                path = os.path.join(d, name)
                found.append((os.stat(path).st_mtime_ns, path))
        return [Delivered.load(path) for _, path in sorted(found)]

    def messages_for(self, recipient):
        """The delivered copies whose Delivered-To is `recipient`."""
        want = recipient.lower()
        return [m for m in self.messages()
                if want in (d.lower() for d in m.delivered_to)]


class Delivered:
    """One message file from a maildir: raw bytes and parsed headers."""

    # Header fields Postfix prepends on receipt and delivery.
    TRACE_FIELDS = ("return-path", "delivered-to", "received",
                    "x-original-to")

    def __init__(self, path, raw):
        self.path = path
        self.raw = raw
        parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
        self.headers = parser.parsebytes(raw)
        self.delivered_to = [v.strip() for v in
                             self.headers.get_all("Delivered-To", [])]

    @classmethod
    def load(cls, path):
        """Reads one maildir file."""
        with open(path, "rb") as f:
            return cls(path, f.read())

    def without_trace(self):
        """The message as the sender wrote it: Postfix's prepended trace
        header fields (and their continuation lines) removed from the top."""
        lines = self.raw.split(b"\n")
        i = 0
        while i < len(lines):
            line = lines[i]
            if line[:1] in (b" ", b"\t") and i > 0:
                i += 1
                continue
            name = line.split(b":", 1)[0].decode("ascii", "replace").lower()
            if ":" in line.decode("ascii", "replace") and \
                    name in self.TRACE_FIELDS:
                i += 1
                continue
            break
        return b"\n".join(lines[i:])
