"""posttls-finger, Postfix's own DANE checker, run against the lab.

posttls-finger(1) looks names up through the system resolver (glibc) and
believes the resolver's AD bit.  In the lab it must ask the lab's unbound,
and glibc passes the AD bit on only with `options trust-ad`, so each run
gets its own view of /etc/resolv.conf: a private mount namespace
(`unshare --mount --propagation private`) in which the lab's resolv.conf
is bind-mounted over /etc/resolv.conf.  That mount lives and dies with the
one posttls-finger process; the case's namespace and the machine's real
file are never touched.

Its configuration is a main.cf of the case's own (MAIL_CONFIG), so the
machine's Postfix settings cannot change the verdict.

The verdict is read from its output, with -v (Postfix's verbose logging,
which says what it found in DNS) and -c (no SMTP chat):
    "Verified TLS connection established"            -> verified
    "TLSA lookup error for ..."                       -> failed (unusable host)
    "all TLSA records unusable, fallback ..."         -> unusable
    "Untrusted TLS connection established" and
        "no TLSA records found, resorting to secure"  -> none (no DANE)
        a TLSA answer was used ("type TLSA for")      -> failed (no match,
                                                         or a wrong name)
which are the client's names for the same outcomes (its JSON "dane").
Without -v a DANE failure and "no DANE" look alike: both end in an
"Untrusted" connection (with no TLSA records it falls back to the
"secure" level, whose PKIX check fails against the lab's private CA).
"""

import os
import subprocess

import labdns

PROGRAM = "/usr/sbin/posttls-finger"

MAIN_CF = """\
compatibility_level = 3.6
myhostname = finger.lab.example
mydomain = lab.example
smtp_dns_support_level = dnssec
smtp_tls_security_level = dane
"""

RESOLV_CONF = "nameserver %s\noptions trust-ad\n" % labdns.RESOLVER_ADDR

# Mounts the lab's resolv.conf ($0) over /etc/resolv.conf, then runs "$@".
WITH_RESOLV_CONF = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'


class FingerRun:
    """One posttls-finger run: command, exit, output and its verdict."""

    def __init__(self, destination, argv, exit_code, output):
        self.destination = destination
        self.argv = argv
        self.exit = exit_code
        self.output = output
        self.verdict = verdict(output)

    def describe(self, lines=25):
        """The run for a failing case's diagnostics: the end of its
        (verbose) output, where the verdict is."""
        kept = self.output.strip().splitlines()[-lines:]
        return ("posttls-finger %s: exit %s, verdict %s\n%s"
                % (self.destination, self.exit, self.verdict,
                   "\n".join(kept) or "(no output)"))


class Finger:
    """posttls-finger set up for one lab (its config and resolv.conf)."""

    def __init__(self, workdir):
        self.config_dir = os.path.join(workdir, "posttls-finger")
        os.makedirs(self.config_dir, exist_ok=True)
        with open(os.path.join(self.config_dir, "main.cf"), "w",
                  encoding="ascii") as f:
            f.write(MAIN_CF)
        self.resolv_conf = os.path.join(self.config_dir, "resolv.conf")
        with open(self.resolv_conf, "w", encoding="ascii") as f:
            f.write(RESOLV_CONF)
        self.runs = []

    def run(self, destination, level="dane", timeout=60):
        """Probes a destination (a domain: MX lookup, as the client does)."""
        argv = [PROGRAM, "-c", "-v", "-l", level, "-t", "10", "-T", "30",
                destination]
        cmd = ["unshare", "--mount", "--propagation", "private",
               "sh", "-c", WITH_RESOLV_CONF, self.resolv_conf] + argv
        env = dict(os.environ, MAIL_CONFIG=self.config_dir)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                               timeout=timeout)
            code, output = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            code = "killed after %d s timeout" % timeout
            output = "%s%s" % (e.stdout or "", e.stderr or "")
        run = FingerRun(destination, argv, code, output)
        self.runs.append(run)
        return run


def verdict(output):
    """posttls-finger's DANE verdict in the client's words (see above);
    "unknown" when its output fits none of them."""
    if "Verified TLS connection established" in output:
        return "verified"
    if "TLSA lookup error" in output:
        return "failed"
    if "all TLSA records unusable" in output:
        return "unusable"
    if "Untrusted TLS connection established" in output:
        if "no TLSA records found" in output:
            return "none"
        if "type TLSA for" in output:
            return "failed"
    return "unknown"
