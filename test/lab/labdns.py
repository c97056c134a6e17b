"""The lab's DNS: a DNSSEC-signed hierarchy served by nsd, resolved by unbound.

At test time the lab builds its own root zone ".", the TLD "example." below
it, and the case's zones below that, each signed with fresh ECDSA P-256 keys
(ldns-keygen, ldns-signzone) or left unsigned (delegated without a DS, so
insecure).  nsd serves every zone from one address; unbound, pointed at nsd
with a stub zone for "." and the lab root's DS as its trust anchor, is the
resolver the client under test talks to.  The same DS lines, in zone-file
form, are the client's --trust-anchor file.

Nothing here is generated ahead of time: keys and zones live in the case's
temporary directory.
"""

import os
import random
import socket
import struct
import subprocess
import time

# The fixed address plan (documentation addresses only).
RESOLVER_ADDR = "198.51.100.53"   # unbound: the client's resolver
AUTH_ADDR = "198.51.100.54"       # nsd: authoritative for every lab zone
NS_NAME = "ns.example."           # the one name server name of every zone
LAME_ADDR = "198.51.100.55"       # a second nsd serving nothing: REFUSED
LAME_NS_NAME = "ns-lame.example."
PROBE_ADDR = "198.51.100.99"      # source of the lab's own DNS checks

# Signatures are valid from an hour ago (no clock-skew surprises) for a week.
SIG_BACKDATE = 3600
SIG_LIFETIME = 7 * 86400

TTL = 300


def fqdn(name):
    """Zone names are kept absolute, with their trailing dot."""
    name = name.strip()
    if name in ("", "."):
        return "."
    return name.rstrip(".") + "."


def parent_name(name):
    """The name one label up: "a.example." -> "example.", "example." -> "."."""
    if name == ".":
        raise ValueError("the root has no parent")
    rest = name.split(".", 1)[1]
    return rest if rest else "."


class Zone:
    """One zone of the lab: its records, signing choice and breakage.

    `records` are zone-file lines relative to the zone ("@ MX 10 mx1",
    "mx1 A 192.0.2.10"); SOA and NS are added here.  `corrupt_rrsig` names
    an RR type (e.g. "MX") whose signatures are damaged after signing, so
    its answers validate as bogus; `wrong_ds` puts a DS for a key the zone
    does not use into the parent, so the whole zone is bogus.
    """

    def __init__(self, name, signed=True, records=(), corrupt_rrsig=None,
                 wrong_ds=False):
        self.name = fqdn(name)
        self.signed = signed
        self.records = list(records)
        self.corrupt_rrsig = corrupt_rrsig
        self.wrong_ds = wrong_ds
        if (corrupt_rrsig or wrong_ds) and not signed:
            raise ValueError("only a signed zone can be made bogus: %s"
                             % self.name)
        # SOA TTL and MINIMUM: how long a denial may be cached (RFC 2308).
        self.negative_ttl = TTL
        # Seconds from signing to the signatures' expiration.
        self.sig_lifetime = SIG_LIFETIME
        self.signed_at = None     # time.time() when sign() ran
        self.serial = 1           # the SOA serial; a rewrite raises it
        self.ksk = None           # sign(): key base paths, so the zone
        self.zsk = None           # can be signed again with the same KSK
        # unbound does not validate this zone (domain-insecure), so it
        # passes the zone's TTLs and RRSIGs on unchanged: a validating
        # unbound would itself lower the TTLs to the signature expiration
        # and hide whether the client does.
        self.resolver_insecure = False
        # Denials by NSEC3 (SHA-1, salt ab12, 3 iterations) instead of
        # NSEC, as most large signed zones have them.
        self.nsec3 = False
        self.ds_lines = []        # filled by sign(): the DS for the parent
        self.zonefile = None      # the file nsd serves

    def label_count(self):
        """Depth in the tree, so children are signed before their parents."""
        return 0 if self.name == "." else self.name.count(".")


class DnsTree:
    """The whole hierarchy: root, example., the case's zones, delegations."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.zones = {}
        self.lame = []            # names delegated to a server that is lame
        self.add(Zone(".", records=[
            "ns.example. A %s" % AUTH_ADDR,
        ]))
        self.add(Zone("example.", records=[
            "ns A %s" % AUTH_ADDR,
            "ns-lame A %s" % LAME_ADDR,
        ]))

    def add(self, zone):
        """Adds a zone; its parent must exist (example. and . always do)."""
        if zone.name in self.zones:
            raise ValueError("zone %s defined twice" % zone.name)
        if zone.name != "." and parent_name(zone.name) not in self.zones:
            raise ValueError("zone %s has no parent zone in the lab"
                             % zone.name)
        self.zones[zone.name] = zone
        return zone

    def add_lame_delegation(self, name):
        """Delegates `name` to a server that does not serve it: SERVFAIL.

        The server is a second nsd with no zones at all (LAME_ADDR), which
        answers REFUSED to everything; unbound, left with no usable server,
        answers SERVFAIL.  (Delegating to the main nsd does not work: it
        serves the parent, repeats the referral, and unbound then answers
        NOERROR with no data.)  The delegation (NS, no DS: provably
        insecure if the zone is signed) goes into the closest enclosing
        zone, which may be several labels up: "_25._tcp.mx.a.example."
        in zone "a.example." makes only that name's lookups fail.
        """
        name = fqdn(name)
        if self.enclosing_zone(name) is None:
            raise ValueError("lame name %s has no enclosing zone" % name)
        self.lame.append(name)

    def enclosing_zone(self, name):
        """The closest zone above `name` (not `name` itself), or None."""
        while name != ".":
            name = parent_name(name)
            if name in self.zones:
                return self.zones[name]
        return None

    def records_of_type(self, rrtype):
        """(absolute owner name, record data) of every record of `rrtype`
        the case put in its zones (lines "OWNER [IN] TYPE DATA"): what a
        failing case prints."""
        found = []
        for zone in self.zones.values():
            for line in zone.records:
                fields = line.split()
                types = [f.upper() for f in fields[1:3]]
                if rrtype.upper() not in types:
                    continue
                owner = fields[0]
                if owner == "@":
                    owner = zone.name
                elif not owner.endswith("."):
                    owner = owner + "." + zone.name
                data = fields[2 + types.index(rrtype.upper()):]
                found.append((owner, " ".join(data)))
        return found

    def addresses(self):
        """Every A/AAAA address in the lab's zones (they all go on lo)."""
        found = set()
        for zone in self.zones.values():
            for line in zone.records:
                fields = line.split()
                for i, field in enumerate(fields[:-1]):
                    if field.upper() in ("A", "AAAA"):
                        found.add(fields[i + 1])
                        break
        return found

    def children(self, zone):
        """The zones directly below `zone`."""
        return [z for z in self.zones.values()
                if z.name != "." and parent_name(z.name) == zone.name]

    def zone_text(self, zone):
        """The unsigned zone file: SOA, NS, the case's records, delegations."""
        lines = [
            "$ORIGIN %s" % zone.name,
            "$TTL %d" % TTL,
            "@ %d SOA %s hostmaster.example. %d 3600 600 86400 %d"
            % (zone.negative_ttl, NS_NAME, zone.serial, zone.negative_ttl),
            "@ NS %s" % NS_NAME,
        ]
        lines += zone.records
        for child in self.children(zone):
            lines.append("%s NS %s" % (child.name, NS_NAME))
            lines += child.ds_lines
        for name in self.lame:
            if self.enclosing_zone(name) is zone:
                lines.append("%s NS %s" % (name, LAME_NS_NAME))
        return "\n".join(lines) + "\n"

    def build(self):
        """Writes and signs every zone, children first; returns the anchor.

        The returned path is the trust anchor file: the root's DS lines.
        """
        order = sorted(self.zones.values(), key=Zone.label_count, reverse=True)
        for zone in order:
            base = "root" if zone.name == "." else zone.name.rstrip(".")
            path = os.path.join(self.workdir, base + ".zone")
            with open(path, "w", encoding="utf-8") as f:
                f.write(self.zone_text(zone))
            if zone.signed:
                zone.zonefile = self.sign(zone, path)
            else:
                zone.zonefile = path
        anchor = os.path.join(self.workdir, "trust-anchor.ds")
        with open(anchor, "w", encoding="utf-8") as f:
            f.write("\n".join(self.zones["."].ds_lines) + "\n")
        return anchor

    def keygen(self, name, ksk):
        """Makes one ECDSA P-256 key for a zone; returns its base path."""
        cmd = ["ldns-keygen", "-a", "ECDSAP256SHA256"]
        if ksk:
            cmd.append("-k")
        out = run(cmd + [name], cwd=self.workdir)
        return os.path.join(self.workdir, out.strip())

    def sign(self, zone, path):
        """Signs a zone with a new KSK and ZSK; records the DS for the parent."""
        zone.ksk = self.keygen(zone.name, ksk=True)
        zone.zsk = self.keygen(zone.name, ksk=False)
        signed = self.sign_with_keys(zone, path)
        ds_key = zone.ksk
        if zone.wrong_ds:
            ds_key = self.keygen(zone.name, ksk=True)   # a key never used
        with open(ds_key + ".ds", encoding="utf-8") as f:
            zone.ds_lines = [l.strip() for l in f if l.strip()]
        return signed

    def resign_new_zsk(self, zone):
        """A ZSK rollover done abruptly: signs `zone` again, in place, with
        a new ZSK (whose key tag differs from the old one's) and its old
        KSK, under a new SOA serial.  The DS in the parent stays valid; a
        validator that still holds the old ZSK finds every RRset's
        signature made by a key it does not know.  Returns the old and
        new ZSK key tags; nsd must be told to reload (Lab.resign_zone)."""
        if not zone.signed or zone.ksk is None:
            raise ValueError("zone %s was never signed" % zone.name)
        old_tag = key_tag(zone.zsk)
        zsk = self.keygen(zone.name, ksk=False)
        while key_tag(zsk) == old_tag:
            zsk = self.keygen(zone.name, ksk=False)
        zone.zsk = zsk
        zone.serial += 1
        path = zone.zonefile[:-len(".signed")]
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.zone_text(zone))
        self.sign_with_keys(zone, path)
        return old_tag, key_tag(zsk)

    def sign_with_keys(self, zone, path):
        """Signs the unsigned zone file `path` with the zone's KSK and ZSK
        into PATH.signed (the DNSKEY RRset by the KSK only, the rest by
        the ZSK: ldns-signzone's minimal signing), damages the RRSIGs the
        zone asks for; returns the signed file's path."""
        signed = path + ".signed"
        zone.signed_at = time.time()
        now = int(zone.signed_at)
        nsec3 = ["-n", "-s", "ab12", "-t", "3"] if zone.nsec3 else []
        run(["ldns-signzone", "-o", zone.name,
             "-i", str(now - SIG_BACKDATE), "-e", str(now + zone.sig_lifetime),
             "-f", signed] + nsec3 + [path, zone.zsk, zone.ksk],
            cwd=self.workdir)
        if zone.corrupt_rrsig:
            corrupt_signatures(signed, zone.corrupt_rrsig)
        return signed


def key_tag(base):
    """The key tag of a key made by ldns-keygen, from its base name
    ("Kzone.+013+12345")."""
    return int(os.path.basename(base).rsplit("+", 1)[1])


def corrupt_signatures(path, rrtype):
    """Damages every RRSIG covering `rrtype` in a signed zone file.

    One base64 character in the middle of the signature is changed, so the
    record still parses but no longer verifies.  Fails if none was found,
    because then the "bogus" zone would silently validate.
    """
    out = []
    changed = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 5 and fields[3] == "RRSIG" and \
                    fields[4].upper() == rrtype.upper():
                sig = fields[-1]
                mid = len(sig) // 2
                flipped = "B" if sig[mid] != "B" else "C"
                fields[-1] = sig[:mid] + flipped + sig[mid + 1:]
                line = "\t".join(fields) + "\n"
                changed += 1
            out.append(line)
    if not changed:
        raise RuntimeError("no RRSIG %s found to corrupt in %s" % (rrtype, path))
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(out)


def run(cmd, cwd=None):
    """Runs a helper program; its stderr becomes the error when it fails."""
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s"
                           % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return p.stdout


def nsd_config(workdir, zones, address=AUTH_ADDR, tag="nsd"):
    """nsd.conf: one server for every zone, no RRL, nothing outside workdir.

    `tag` names its files, so the lame server can run beside the real one.
    """
    lines = [
        "server:",
        "    ip-address: %s" % address,
        "    port: 53",
        "    username: \"\"",
        "    chroot: \"\"",
        "    zonesdir: \"%s\"" % workdir,
        "    database: \"\"",
        "    pidfile: \"%s/%s.pid\"" % (workdir, tag),
        "    logfile: \"%s/%s.log\"" % (workdir, tag),
        "    xfrdfile: \"%s/%s-xfrd.state\"" % (workdir, tag),
        "    zonelistfile: \"%s/%s-zone.list\"" % (workdir, tag),
        "    xfrdir: \"%s\"" % workdir,
        "    server-count: 1",
        "    verbosity: 1",
        "    hide-version: yes",
        "    rrl-ratelimit: 0",
        "remote-control:",
        "    control-enable: no",
    ]
    for zone in zones:
        lines += ["zone:",
                  "    name: \"%s\"" % zone.name,
                  "    zonefile: \"%s\"" % zone.zonefile]
    return "\n".join(lines) + "\n"


def unbound_config(workdir, anchor, insecure=()):
    """unbound.conf: a validating resolver for the lab root, in workdir;
    the zones named in `insecure` it does not validate."""
    lines = [
        "server:",
        "    interface: %s" % RESOLVER_ADDR,
        "    port: 53",
        "    num-threads: 1",
        # A burst of a few hundred validating clients' queries overflows
        # the default 208 KB socket buffer on a busy 2-core machine, and a
        # datagram dropped there is a client timeout (as root, unbound can
        # force a bigger buffer than net.core.rmem_max).
        "    so-rcvbuf: 8m",
        "    so-sndbuf: 8m",
        "    num-queries-per-thread: 4096",
        # unbound remembers an unresponsive server (infra cache) and a
        # failed key fetch; in a lab that starts under load, a slow first
        # answer must not poison the rest of the case.
        "    infra-keep-probing: yes",
        "    infra-host-ttl: 5",
        "    val-bogus-ttl: 1",
        "    verbosity: 1",
        "    val-log-level: 2",
        # Every query the client makes is logged, so a case can check that
        # a failure was really the answer's and not a lookup never made.
        "    log-queries: yes",
        "    use-syslog: no",
        "    logfile: \"%s/unbound.log\"" % workdir,
        "    pidfile: \"%s/unbound.pid\"" % workdir,
        "    directory: \"%s\"" % workdir,
        "    chroot: \"\"",
        "    username: \"\"",
        "    do-not-query-localhost: no",
        "    module-config: \"validator iterator\"",
        "    trust-anchor-file: \"%s\"" % anchor,
        "    access-control: 127.0.0.0/8 allow",
        "    access-control: ::1/128 allow",
        "    access-control: 192.0.2.0/24 allow",
        "    access-control: 198.51.100.0/24 allow",
        "    access-control: 203.0.113.0/24 allow",
        "    access-control: 2001:db8::/32 allow",
        # RFC 6761 names get built-in answers unless told otherwise.
        "    local-zone: \"example.\" nodefault",
    ] + ["    domain-insecure: \"%s\"" % name for name in insecure] + [
        "stub-zone:",
        "    name: \".\"",
        "    stub-addr: %s" % AUTH_ADDR,
        "remote-control:",
        "    control-enable: no",
    ]
    return "\n".join(lines) + "\n"


RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN",
          4: "NOTIMP", 5: "REFUSED"}
QTYPES = {"A": 1, "NS": 2, "SOA": 6, "MX": 15, "AAAA": 28}


def probe(server, name, rrtype, timeout=0.2):
    """One quick UDP query; returns (rcode name, AD bit set) or None.

    Used to wait for a server to come up: unlike drill, it does not sit out
    a timeout when nothing listens yet (the port-unreachable error comes
    back at once on a connected socket).  The query sets AD, so a
    validating resolver reports in the reply whether it validated.
    """
    qid = random.randrange(65536)
    header = struct.pack("!HHHHHH", qid, 0x0120, 1, 0, 0, 0)   # RD, AD
    qname = b"".join(bytes([len(label)]) + label.encode("ascii")
                     for label in fqdn(name).split(".") if label) + b"\0"
    query = header + qname + struct.pack("!HH", QTYPES[rrtype], 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.bind((PROBE_ADDR, 0))
            s.connect((server, 53))
            s.send(query)
            reply = s.recv(4096)
        except OSError:
            return None
    if len(reply) < 12 or struct.unpack("!H", reply[:2])[0] != qid:
        return None
    flags = struct.unpack("!H", reply[2:4])[0]
    return RCODES.get(flags & 0xF, str(flags & 0xF)), bool(flags & 0x0020)


def drill(name, rrtype, server=RESOLVER_ADDR, dnssec=True, timeout=2):
    """Asks a lab server; returns (rcode, flags, answer lines) or None.

    Used to check the lab's own zones; None means no answer at all.  It
    asks from PROBE_ADDR, so the lab's questions are not taken for the
    client's in the resolver's query log.
    """
    cmd = ["drill", "-I", PROBE_ADDR]
    if dnssec:
        cmd.append("-D")
    cmd += ["@" + server, name, rrtype]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if p.returncode != 0:
        return None
    rcode, flags, answer = None, set(), []
    section = None
    for line in p.stdout.splitlines():
        if line.startswith(";; ->>HEADER<<-"):
            rcode = line.split("rcode:")[1].split(",")[0].strip()
        elif line.startswith(";; flags:"):
            flags = set(line.split(";")[2].replace("flags:", "").split())
        elif line.startswith(";; ANSWER SECTION"):
            section = "answer"
        elif line.startswith(";;"):
            section = None
        elif section == "answer" and line.strip():
            answer.append(line.strip())
    if rcode is None:
        return None
    return rcode, flags, answer


def rrsig_key_tags(name, rrtype, server=AUTH_ADDR):
    """The key tags of the RRSIGs covering `name` `rrtype` in a server's
    answer (nsd by default: what is served, not what a resolver kept);
    None without an answer.  Tells which key signed an RRset."""
    got = drill(name, rrtype, server=server, dnssec=True)
    if got is None:
        return None
    tags = set()
    for line in got[2]:
        # OWNER TTL IN RRSIG COVERED ALG LABELS TTL EXP INC TAG SIGNER SIG
        fields = line.split()
        if len(fields) > 11 and fields[3] == "RRSIG" and \
                fields[4].upper() == rrtype.upper():
            tags.add(int(fields[10]))
    return tags
