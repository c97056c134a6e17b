#!/usr/bin/env python3
"""DANE (RFC 7672) lab cases: the real client against signed TLSA records,
real Postfix and scripted SMTP servers, and Postfix's own DANE checker.

Run one case:  dane_case.py CASE      (meson registers each as dane-CASE)
List them:     dane_case.py --list

Certificates (a private CA: root -> intermediate -> leaf, ECDSA P-256) and
the TLSA records naming them are made at lab time (test/lab/labpki.py).
Every case checks the client's exit status and JSON (`dane`: verified,
none, unusable, failed) AND what the servers got: the maildir for Postfix,
the transcript for scripted servers, where a failure must show that no
MAIL FROM and no message text was ever sent.  The lab itself is probed
(TLSA answers secure, bogus or SERVFAIL as the case assumes), so a case
cannot pass for the wrong reason.  A failing case prints every TLSA record
it published.
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
sys.path.insert(0, HERE)

import labdns      # noqa: E402
import labpostfix  # noqa: E402
import labrun      # noqa: E402
from lab import (CaseFailure, expect, expect_exit,   # noqa: E402
                 expect_result, EX_OK, EX_TEMPFAIL)
from labpki import Credential, damaged, short, tlsa   # noqa: E402
from lab_case import (TIMEOUT_ARGS, expect_copies, expect_dns,   # noqa: E402
                      expect_empty, expect_no_connection, message,
                      same_host)

CASES, case = labrun.registry()



# --- helpers ---------------------------------------------------------------

def private_ca(lab, leaf_names):
    """root -> intermediate -> leaf; the leaf's subjectAltNames are
    `leaf_names` (its CN the first).  Returns (root, intermediate, leaf)."""
    root = lab.pki.root("Lab Root CA")
    inter = lab.pki.issue(root, "Lab Intermediate CA", ca=True)
    leaf = lab.pki.issue(inter, leaf_names[0], sans=leaf_names)
    return root, inter, leaf


def dane_zone(lab, domain, address, records=(), signed=True,
              corrupt_rrsig=None):
    """A zone whose only MX is mx.DOMAIN at `address`, with `records` as
    its TLSA RRset at _25._tcp.mx.DOMAIN.  Returns the MX host name."""
    lines = ["@ MX 10 mx", "mx A %s" % address]
    lines += ["_25._tcp.mx TLSA %s" % r for r in records]
    lab.zone(domain, signed=signed, records=lines, corrupt_rrsig=corrupt_rrsig)
    return "mx." + domain


def expect_dane(run, rcpt, dane, delivered):
    """The run's exit status, the recipient's JSON status and its `dane`."""
    code = EX_OK if delivered else EX_TEMPFAIL
    expect_exit(run, code)
    rec = expect_result(run, rcpt, "delivered" if delivered else "tempfail",
                        code)
    if isinstance(dane, str):
        dane = (dane,)
    expect(rec.get("dane") in dane, "%s: dane is %r, expected %s (detail: %s)"
           % (rcpt, rec.get("dane"), " or ".join(map(repr, dane)),
              rec.get("detail")))
    return rec


def expect_tls(rec, wanted):
    """The JSON `tls`: a TLS version when `wanted`, else false."""
    if wanted:
        expect(str(rec.get("tls", "")).startswith("TLS"),
               "%s: tls is %r, expected a TLS version"
               % (rec.get("recipient"), rec.get("tls")))
    else:
        expect(rec.get("tls") is False, "%s: tls is %r, expected false"
               % (rec.get("recipient"), rec.get("tls")))


def tls_lines(run):
    """The client's progress lines about TLS sessions ("TLS with ...")."""
    return [l for l in run.stderr.splitlines() if " TLS with " in l]


def expect_verified_line(run, usage_name):
    """Progress says which kind of record (DANE-EE/DANE-TA) matched."""
    lines = tls_lines(run)
    expect(any("DANE verified" in l and usage_name in l for l in lines),
           "no 'DANE verified: %s' progress line; TLS lines: %r"
           % (usage_name, lines))


def expect_nothing_sent(conns, what):
    """No MAIL FROM, RCPT, DATA or message text on these connections."""
    for c in conns:
        sent = c.commands("MAIL") + c.commands("RCPT") + c.commands("DATA")
        expect(not sent and not c.bodies,
               "%s: the client sent %r%s" % (
                   what, sent, " and a message" if c.bodies else ""))


def new_connections(server, before):
    """The connections a server got since it had `before` of them."""
    return server.connections()[before:]


def expect_one_body(conns, marker, what):
    """Exactly one message, with the marker, on these connections."""
    bodies = [b for c in conns for b in c.bodies]
    expect(len(bodies) == 1 and marker.decode() in bodies[0],
           "%s: %d messages arrived, expected 1 with the marker"
           % (what, len(bodies)))


def expect_tlsa_secure(name):
    """Lab sanity: the TLSA RRset exists and validates (AD)."""
    expect_dns(name, "TLSA", "NOERROR", ad=True)
    got = labdns.drill(name, "TLSA", timeout=5)
    expect(any("\tTLSA\t" in l for l in got[2]),
           "lab: no TLSA record in the answer for %s" % name)


# --- the matrix ------------------------------------------------------------

class Combo:
    """One combination: its own domain and MX host, a TLSA RRset there,
    the server behind it and whether the client must verify it."""

    def __init__(self, name, records, verified, target, usage_name=None):
        self.name = name
        self.domain = name + ".example"
        self.mx = "mx." + self.domain
        self.rcpt = "user@" + self.domain
        self.records = records
        self.verified = verified
        self.target = target          # a Postfix or a scripted server
        self.usage_name = usage_name  # "DANE-EE"/"DANE-TA" when verified
        self.run = None               # the client's run (a ClientRun)
        self.before = None            # scripted server's connections before

    def label(self):
        """The combination and its records, for a failure message."""
        return "%s [TLSA %s]" % (self.name,
                                 "; ".join(short(r) for r in self.records))


def run_matrix(lab, combos):
    """Runs the client once per combination and checks each on its own;
    fails naming every combination that went wrong."""
    for c in combos:
        expect_tlsa_secure("_25._tcp." + c.mx)
    msg, marker = message("matrix")
    for c in combos:
        c.before = target_connections(c.target)
        c.run = lab.run_client([c.rcpt], msg, TIMEOUT_ARGS)
    failures = []
    for c in combos:
        try:
            check_combo(c, marker)
        except CaseFailure as e:
            failures.append("%s: %s" % (c.label(), e))
    for c in combos:
        got = c.run.records[0].get("dane") if c.run.records else None
        print("  %-22s expect %-8s got %-8s exit %s" % (
            c.name, "verified" if c.verified else "failed", got, c.run.exit))
    expect(not failures, "%d of %d combinations wrong:\n    %s"
           % (len(failures), len(combos), "\n    ".join(failures)))
    for pf in {c.target for c in combos
               if isinstance(c.target, labpostfix.Postfix)}:
        want = sum(1 for c in combos if c.target is pf and c.verified)
        expect(len(pf.messages()) == want, "%s holds %d messages, expected %d"
               % (pf.hostname, len(pf.messages()), want))


def target_connections(target):
    """How many connections a scripted server has had (None for Postfix)."""
    if isinstance(target, labpostfix.Postfix):
        return None
    return len(target.connections(settle=0))


def check_combo(c, marker):
    """One combination's outcome: verified and delivered, or failed and
    nothing sent (the client connected to the right host and stopped)."""
    address = c.target.addresses[0] if isinstance(
        c.target, labpostfix.Postfix) else c.target.address
    rec = expect_dane(c.run, c.rcpt, "verified" if c.verified else "failed",
                      c.verified)
    expect(rec.get("address") == address, "address %r, expected %s (the "
           "failure must come from that host)" % (rec.get("address"), address))
    # An aborted handshake (no match) carried nothing: tls must say false.
    expect_tls(rec, c.verified)
    if c.verified:
        expect(same_host(rec.get("mx"), c.mx), "mx is %r" % rec.get("mx"))
        expect_verified_line(c.run, c.usage_name)
    if isinstance(c.target, labpostfix.Postfix):
        expect_copies(c.target, c.rcpt, 1 if c.verified else 0,
                      marker if c.verified else None)
        return
    conns = new_connections(c.target, c.before)
    if c.verified:
        expect_one_body(conns, marker, c.target.address)
    else:
        expect(conns and all(x.commands("STARTTLS") for x in conns),
               "expected STARTTLS on every connection, got %r"
               % [x.received[:3] for x in conns])
        expect_nothing_sent(conns, c.target.address)


def full_matrix(prefix, usage, cert, target):
    """Selectors 0, 1 x matching types 0, 1, 2 for `cert`: each right
    (verified) and with its data damaged (failed)."""
    usage_name = {2: "DANE-TA", 3: "DANE-EE"}[usage]
    combos = []
    for selector in (0, 1):
        for mtype in (0, 1, 2):
            name = "%s-%d-%d" % (prefix, selector, mtype)
            good = tlsa(cert, usage, selector, mtype)
            combos.append(Combo(name, [good], True, target, usage_name))
            combos.append(Combo(name + "-bad", [damaged(good)], False, target))
    return combos


def matrix_names(prefix):
    """The MX host names full_matrix(prefix, ...) will use (for SANs)."""
    return ["mx.%s-%d-%d%s.example" % (prefix, s, m, bad)
            for s in (0, 1) for m in (0, 1, 2) for bad in ("", "-bad")]


def add_zones(lab, combos):
    """One signed zone per combination, its MX at the target's address."""
    for c in combos:
        address = c.target.addresses[0] if isinstance(
            c.target, labpostfix.Postfix) else c.target.address
        dane_zone(lab, c.domain, address, c.records)


@case("matrix-ee")
def case_matrix_ee(lab):
    """DANE-EE(3) x selector 0/1 x matching type 0/1/2 against Postfix
    presenting leaf + intermediate: the leaf's data verifies, damaged data
    fails; the intermediate's digest as a DANE-EE record fails."""
    names = matrix_names("ee") + ["mx.ee-inter.example"]
    _root, inter, leaf = private_ca(lab, names)
    pf = lab.postfix(names[0], ["192.0.2.10"],
                     [n[3:] for n in names], Credential(leaf, [inter]))
    combos = full_matrix("ee", 3, leaf, pf)
    combos.append(Combo("ee-inter", [tlsa(inter, 3, 0, 1)], False, pf))
    add_zones(lab, combos)
    lab.start()
    expect_empty(pf)
    run_matrix(lab, combos)


@case("matrix-ta")
def case_matrix_ta(lab):
    """DANE-TA(2) with the intermediate x selector 0/1 x matching type
    0/1/2 (Postfix sends leaf + intermediate): verified, damaged data
    fails; the leaf's digest as a DANE-TA record fails (depth 0)."""
    names = matrix_names("ta") + ["mx.ta-leaf.example"]
    _root, inter, leaf = private_ca(lab, names)
    pf = lab.postfix(names[0], ["192.0.2.10"],
                     [n[3:] for n in names], Credential(leaf, [inter]))
    combos = full_matrix("ta", 2, inter, pf)
    combos.append(Combo("ta-leaf", [tlsa(leaf, 2, 0, 1)], False, pf))
    add_zones(lab, combos)
    lab.start()
    expect_empty(pf)
    run_matrix(lab, combos)


@case("matrix-ta-root")
def case_matrix_ta_root(lab):
    """DANE-TA(2) with the root: x selector 0/1 x matching type 0/1/2
    when Postfix sends the root in its chain; as a bare "2 1 0" key when
    it does not (the key signs the top of the chain); a digest of the
    root when the root is not sent matches nothing."""
    names = matrix_names("root") + [
        "mx.rootkey.example", "mx.rootkey-bad.example",
        "mx.root-unsent.example"]
    root, inter, leaf = private_ca(lab, names)
    with_root = lab.postfix("mx.with-root.example", ["192.0.2.11"],
                            [n[3:] for n in matrix_names("root")],
                            Credential(leaf, [inter, root]))
    without = lab.postfix("mx.without-root.example", ["192.0.2.10"],
                          [n[3:] for n in names[-3:]],
                          Credential(leaf, [inter]))
    combos = full_matrix("root", 2, root, with_root)
    key = tlsa(root, 2, 1, 0)
    combos += [
        Combo("rootkey", [key], True, without, "DANE-TA"),
        Combo("rootkey-bad", [damaged(key)], False, without),
        Combo("root-unsent", [tlsa(root, 2, 0, 1)], False, without),
    ]
    add_zones(lab, combos)
    lab.start()
    expect_empty(with_root)
    expect_empty(without)
    run_matrix(lab, combos)


@case("ta-names")
def case_ta_names(lab):
    """DANE-TA checks the leaf's name and the chain; DANE-EE does not.

    Scripted TLS servers, one per combination, each presenting its own
    leaf with the private intermediate:
      ta-san-ok     leaf's SAN is the MX host                 -> verified
      ta-wrongsan   SAN (and CN) name another host            -> failed
      ee-wrongsan   the same leaf, DANE-EE                    -> verified
      ta-cn-not-san CN is the MX host, SAN another: CN ignored -> failed
      ta-cn-only    no SAN, CN is the MX host                 -> verified
      ta-unchained  a leaf from another CA sent with our
                    intermediate: the chain does not verify   -> failed
    """
    root = lab.pki.root("Lab Root CA")
    inter = lab.pki.issue(root, "Lab Intermediate CA", ca=True)
    other_root = lab.pki.root("Other Root CA")
    leaves = {
        "ta-san-ok": lab.pki.issue(inter, "mx.ta-san-ok.example"),
        "ta-wrongsan": lab.pki.issue(inter, "other-host.example"),
        "ta-cn-not-san": lab.pki.issue(inter, "mx.ta-cn-not-san.example",
                                       sans=["other-host.example"],
                                       file_tag="cn-not-san"),
        "ta-cn-only": lab.pki.issue(inter, "mx.ta-cn-only.example", sans=[]),
        "ta-unchained": lab.pki.issue(other_root, "mx.ta-unchained.example"),
    }
    leaves["ee-wrongsan"] = leaves["ta-wrongsan"]
    ta = tlsa(inter, 2, 0, 1)
    plan = [("ta-san-ok", ta, True, "DANE-TA"),
            ("ta-wrongsan", ta, False, None),
            ("ee-wrongsan", tlsa(leaves["ee-wrongsan"], 3, 1, 1), True,
             "DANE-EE"),
            ("ta-cn-not-san", ta, False, None),
            ("ta-cn-only", ta, True, "DANE-TA"),
            ("ta-unchained", ta, False, None)]
    combos = []
    for i, (name, record, verified, usage_name) in enumerate(plan):
        server = lab.smtp_server("192.0.2.%d" % (11 + i), {"tls": True},
                                 credential=Credential(leaves[name], [inter]))
        combos.append(Combo(name, [record], verified, server, usage_name))
    add_zones(lab, combos)
    lab.start()
    run_matrix(lab, combos)


@case("ta-nexthop")
def case_ta_nexthop(lab):
    """RFC 7672 3.2.2: behind a secure MX RRset, a DANE-TA leaf may name
    the next-hop domain (the recipient domain, or its CNAME-expanded
    form) instead of the MX host; a failure names each name once.
    Scripted servers, leaves under the private intermediate (2 0 1):
      nh1.example        leaf names nh1.example               -> verified
      alias.nh2.example  CNAME to real.nh2.example (with the MX);
                         leaf names real.nh2.example          -> verified
      nh3.example        leaf names nh1.example               -> failed
    posttls-finger must give the same verdicts."""
    root = lab.pki.root("Lab Root CA")
    inter = lab.pki.issue(root, "Lab Intermediate CA", ca=True)
    ta = tlsa(inter, 2, 0, 1)
    plan = [("nh1.example", "nh1.example", "192.0.2.51", "verified"),
            ("alias.nh2.example", "real.nh2.example", "192.0.2.52", "verified"),
            ("nh3.example", "nh1.example", "192.0.2.53", "failed")]
    lab.zone("nh1.example", records=[
        "@ MX 10 mx", "mx A 192.0.2.51", "_25._tcp.mx TLSA " + ta])
    lab.zone("nh2.example", records=[
        "alias CNAME real", "real MX 10 mx", "mx A 192.0.2.52",
        "_25._tcp.mx TLSA " + ta])
    lab.zone("nh3.example", records=[
        "@ MX 10 mx", "mx A 192.0.2.53", "_25._tcp.mx TLSA " + ta])
    servers = {}
    for domain, leaf_name, address, _ in plan:
        leaf = lab.pki.issue(inter, leaf_name, file_tag=domain)
        servers[domain] = lab.smtp_server(
            address, {"tls": True}, credential=Credential(leaf, [inter]))
    lab.start()
    expect_dns("alias.nh2.example", "MX", "NOERROR", ad=True)
    msg, marker = message("nexthop")
    failures = []
    for domain, leaf_name, _, want in plan:
        rcpt = "user@" + domain
        run = lab.run_client([rcpt], msg, TIMEOUT_ARGS)
        finger = lab.posttls_finger(domain)
        print("  %-14s expected %-8s posttls-finger %s"
              % (domain, want, finger.verdict))
        try:
            expect(finger.verdict == want, "posttls-finger says %s"
                   % finger.verdict)
            rec = expect_dane(run, rcpt, want, want != "failed")
            conns = servers[domain].connections()
            expect(conns, "no connection: the failure was not DANE's")
            if want == "failed":
                expect_nothing_sent(conns, rcpt)
                mx = "mx." + domain
                detail = rec.get("detail", "")
                print("         %s" % detail)
                expect(detail.count(mx) == 2 and
                       "neither %s nor %s" % (mx, mx) not in detail,
                       "the reason repeats the MX host: %r" % detail)
            else:
                expect_one_body(conns, marker, rcpt)
                expect_verified_line(run, "DANE-TA")
        except CaseFailure as e:
            failures.append("%s (expected %s): %s" % (domain, want, e))
    expect(not failures, "\n    ".join(failures))


@case("ta-anchors")
def case_ta_anchors(lab):
    """DANE-TA anchors as RFC 7671 5.2.2 and RFC 5280 have them, each
    compared with posttls-finger (OpenSSL's DANE).  Scripted servers:
      notsent   TLSA "2 0 0" is the root, which the server does not send
                (leaf + intermediate)                         -> verified
      pathlen   root -> CA1 (pathlen 0) -> CA2 -> leaf, all sent,
                "2 0 1" at the root                            -> failed
      pathok    root -> CA1 (pathlen 0) -> leaf, "2 0 1" root  -> verified
      nc        root with name constraints (permitted DNS:example) ->
                intermediate whose CN is no DNS name -> leaf   -> verified
      ncbad     the same root, a leaf that names its MX host and also
                a name outside the constraint (mx.ncbad.invalid) -> failed
    """
    root = lab.pki.root("Anchor Root CA")
    inter = lab.pki.issue(root, "Anchor Intermediate CA", ca=True)
    pl_root = lab.pki.root("Pathlen Root CA")
    ca1 = lab.pki.issue(pl_root, "Pathlen 0 CA", ca=True,
                        constraints=["pathlen:0"])
    ca2 = lab.pki.issue(ca1, "CA below the pathlen 0 CA", ca=True)
    nc_root = lab.pki.root("Constrained Root CA",
                           constraints=["permitted;DNS:example"])
    nc_int = lab.pki.issue(nc_root, "Constrained Intermediate CA", ca=True)
    creds = {
        "notsent": Credential(lab.pki.issue(inter, "mx.notsent.example"),
                              [inter]),
        "pathlen": Credential(lab.pki.issue(ca2, "mx.pathlen.example"),
                              [ca2, ca1, pl_root]),
        "pathok": Credential(lab.pki.issue(ca1, "mx.pathok.example"),
                             [ca1, pl_root]),
        "nc": Credential(lab.pki.issue(nc_int, "mx.nc.example"),
                         [nc_int, nc_root]),
        "ncbad": Credential(lab.pki.issue(nc_int, "mx.ncbad.example",
                                          sans=["mx.ncbad.example",
                                                "mx.ncbad.invalid"]),
                            [nc_int, nc_root]),
    }
    records = {"notsent": tlsa(root, 2, 0, 0),
               "pathlen": tlsa(pl_root, 2, 0, 1),
               "pathok": tlsa(pl_root, 2, 0, 1),
               "nc": tlsa(nc_root, 2, 0, 1),
               "ncbad": tlsa(nc_root, 2, 0, 1)}
    expected = {"notsent": "verified", "pathlen": "failed",
                "pathok": "verified", "nc": "verified", "ncbad": "failed"}
    servers = {}
    for i, tag in enumerate(expected):
        address = "192.0.2.9%d" % i
        dane_zone(lab, "%s.example" % tag, address, [records[tag]])
        servers[tag] = lab.smtp_server(address, {"tls": True},
                                       credential=creds[tag])
    lab.start()
    msg, marker = message("anchors")
    failures = []
    for tag, want in expected.items():
        rcpt = "user@%s.example" % tag
        run = lab.run_client([rcpt], msg, TIMEOUT_ARGS)
        finger = lab.posttls_finger("%s.example" % tag)
        print("  %-8s expected %-8s posttls-finger %s"
              % (tag, want, finger.verdict))
        try:
            expect(finger.verdict == want, "posttls-finger says %s"
                   % finger.verdict)
            expect_dane(run, rcpt, want, want != "failed")
            conns = servers[tag].connections()
            expect(conns, "no connection")
            if want == "failed":
                expect_nothing_sent(conns, rcpt)
            else:
                expect_one_body(conns, marker, rcpt)
                expect_verified_line(run, "DANE-TA")
        except CaseFailure as e:
            failures.append("%s (expected %s): %s" % (tag, want, e))
    expect(not failures, "\n    ".join(failures))


# --- STARTTLS and DNS failures at a DANE host ------------------------------

@case("no-starttls")
def case_no_starttls(lab):
    """A host with secure, usable TLSA records that does not offer
    STARTTLS, and one that offers it but refuses it (454): 75, dane
    "failed", and the client never sent MAIL FROM in the clear."""
    cert = lab.pki.self_signed("mx.notls.example")
    record = tlsa(cert, 3, 1, 1)
    dane_zone(lab, "notls.example", "192.0.2.10", [record])
    dane_zone(lab, "refused.example", "192.0.2.11", [record])
    plain = lab.smtp_server("192.0.2.10")
    refusing = lab.smtp_server("192.0.2.11", {
        "tls": True, "starttls": "454 4.7.0 TLS not available now"},
        credential=Credential(cert))
    lab.start()
    expect_tlsa_secure("_25._tcp.mx.notls.example")
    msg, _ = message("notls")
    for server, rcpt in ((plain, "user@notls.example"),
                         (refusing, "user@refused.example")):
        run = lab.run_client([rcpt], msg, TIMEOUT_ARGS)
        expect_dane(run, rcpt, "failed", delivered=False)
        conns = server.connections()
        expect(conns and all(c.commands("EHLO") for c in conns),
               "%s: the client never got as far as EHLO: %r"
               % (server.address, [c.received for c in conns]))
        expect_nothing_sent(conns, server.address)
    expect(not plain.connections()[0].commands("STARTTLS"),
           "STARTTLS sent to a host that did not offer it")
    expect(refusing.connections()[0].commands("STARTTLS"),
           "STARTTLS not tried where it was offered")


@case("bogus-tlsa")
def case_bogus_tlsa(lab):
    """A signed zone whose TLSA signature is broken (the record itself
    would match the server): the host is unusable, 75, no connection."""
    cert = lab.pki.self_signed("mx.bogustlsa.example")
    dane_zone(lab, "bogustlsa.example", "192.0.2.10", [tlsa(cert, 3, 1, 1)],
              corrupt_rrsig="TLSA")
    server = lab.smtp_server("192.0.2.10", {"tls": True},
                             credential=Credential(cert))
    lab.start()
    expect_dns("_25._tcp.mx.bogustlsa.example", "TLSA", "SERVFAIL")
    expect_dns("mx.bogustlsa.example", "A", "NOERROR", ad=True)
    msg, _ = message("bogustlsa")
    run = lab.run_client(["user@bogustlsa.example"], msg, TIMEOUT_ARGS)
    expect_dane(run, "user@bogustlsa.example", "failed", delivered=False)
    expect(("_25._tcp.mx.bogustlsa.example.", "TLSA")
           in lab.resolver_queries(), "the client never asked for the TLSA")
    expect_no_connection(server)


@case("bogus-mx")
def case_bogus_mx(lab):
    """A bogus MX RRset whose host has good, matching TLSA records: 75,
    nothing sent, and DANE reports no verification (lab-bogus-mx checks
    the same without TLSA; this adds the `dane` field)."""
    cert = lab.pki.self_signed("mx.bogusmx.example")
    dane_zone(lab, "bogusmx.example", "192.0.2.10", [tlsa(cert, 3, 1, 1)],
              corrupt_rrsig="MX")
    server = lab.smtp_server("192.0.2.10", {"tls": True},
                             credential=Credential(cert))
    lab.start()
    expect_dns("bogusmx.example", "MX", "SERVFAIL")
    expect_tlsa_secure("_25._tcp.mx.bogusmx.example")
    msg, _ = message("bogusmx")
    run = lab.run_client(["user@bogusmx.example"], msg, TIMEOUT_ARGS)
    # No server was reached: "unreached" (before the JSON said so, "none"),
    # and the failure is DNSSEC's, a TLS-RPT dnssec-invalid.
    rec = expect_dane(run, "user@bogusmx.example", "unreached",
                      delivered=False)
    expect(rec.get("kind") == "dnssec" and
           rec.get("tlsrpt") == "dnssec-invalid" and
           rec.get("dnssec", {}).get("mx") == "bogus",
           "kind %r, tlsrpt %r, dnssec %r" % (rec.get("kind"),
                                               rec.get("tlsrpt"),
                                               rec.get("dnssec")))
    expect_no_connection(server)


@case("mx-indeterminate")
def case_mx_indeterminate(lab):
    """An MX answer whose DNSSEC status is indeterminate (the client's
    trust anchor covers another island of the tree, not this name) is a
    lookup failure at level dane: deferred, nothing sent, never taken for
    "insecure" (which would drop DANE).  At level may the status does not
    matter: delivered."""
    island = lab.zone("island.example", records=["www A 192.0.2.99"])
    dane_zone(lab, "ind.example", "192.0.2.61")
    server = lab.smtp_server("192.0.2.61", {"tls": True})
    lab.start()
    anchor = os.path.join(lab.workdir, "island-anchor.ds")
    with open(anchor, "w", encoding="utf-8") as f:
        f.write("\n".join(island.ds_lines) + "\n")
    expect_dns("ind.example", "MX", "NOERROR", ad=True)
    msg, marker = message("indeterminate")
    rcpt = "user@ind.example"
    run = lab.run_client([rcpt], msg, TIMEOUT_ARGS +
                         ["--trust-anchor", anchor])
    expect_exit(run, EX_TEMPFAIL)
    rec = expect_result(run, rcpt, "tempfail", EX_TEMPFAIL)
    expect("indeterminate" in rec.get("detail", ""),
           "detail %r does not say why" % rec.get("detail"))
    expect_no_connection(server)
    run = lab.run_client([rcpt], msg, TIMEOUT_ARGS +
                         ["--trust-anchor", anchor, "--tls-level", "may"])
    expect_dane(run, rcpt, "none", True)
    expect_one_body(server.connections(), marker, rcpt + " at level may")


@case("tlsa-servfail")
def case_tlsa_servfail(lab):
    """TLSA lookups that SERVFAIL (_25._tcp.mx delegated to a lame server):
      signed zone, secure addresses       -> host unusable, 75, no connection
      MX secure, host in an unsigned zone -> delivered, dane "none"
      the same, the host name a CNAME     -> delivered, dane "none" (its
        own CNAME is insecure: no TLSA applies, as for any insecure host)
      unsigned domain and host            -> delivered, dane "none"
    """
    dane_zone(lab, "sf-signed.example", "192.0.2.10")
    lab.servfail_name("_25._tcp.mx.sf-signed.example")
    lab.zone("sf-host.example", records=["@ MX 10 mx.unsigned-hosts.example."])
    lab.zone("unsigned-hosts.example", signed=False,
             records=["mx A 192.0.2.20", "mx2 A 192.0.2.22"])
    lab.servfail_name("_25._tcp.mx.unsigned-hosts.example")
    lab.zone("sf-cname.example",
             records=["@ MX 10 mx.unsigned-alias.example."])
    lab.zone("unsigned-alias.example", signed=False,
             records=["mx CNAME mx2.unsigned-hosts.example."])
    lab.servfail_name("_25._tcp.mx.unsigned-alias.example")
    dane_zone(lab, "sf-unsigned.example", "192.0.2.21", signed=False)
    lab.servfail_name("_25._tcp.mx.sf-unsigned.example")
    signed = lab.smtp_server("192.0.2.10", {"tls": True})
    host_unsigned = lab.smtp_server("192.0.2.20", {"tls": True})
    alias_unsigned = lab.smtp_server("192.0.2.22", {"tls": True})
    unsigned = lab.smtp_server("192.0.2.21", {"tls": True})
    lab.start()
    for name in ("_25._tcp.mx.sf-signed.example",
                 "_25._tcp.mx.unsigned-hosts.example",
                 "_25._tcp.mx.unsigned-alias.example",
                 "_25._tcp.mx.sf-unsigned.example"):
        expect_dns(name, "TLSA", "SERVFAIL")
    expect_dns("mx.sf-signed.example", "A", "NOERROR", ad=True)
    expect_dns("sf-host.example", "MX", "NOERROR", ad=True)
    expect_dns("mx.unsigned-hosts.example", "A", "NOERROR", ad=False)
    expect_dns("mx.sf-unsigned.example", "A", "NOERROR", ad=False)
    msg, marker = message("tlsasf")

    run = lab.run_client(["user@sf-signed.example"], msg, TIMEOUT_ARGS)
    expect_dane(run, "user@sf-signed.example", "failed", delivered=False)
    expect(("_25._tcp.mx.sf-signed.example.", "TLSA")
           in lab.resolver_queries(), "the client never asked for the TLSA")
    expect_no_connection(signed)

    for rcpt, server in (("user@sf-host.example", host_unsigned),
                         ("user@sf-cname.example", alias_unsigned),
                         ("user@sf-unsigned.example", unsigned)):
        run = lab.run_client([rcpt], msg, TIMEOUT_ARGS)
        rec = expect_dane(run, rcpt, "none", delivered=True)
        expect_tls(rec, True)
        expect_one_body(server.connections(), marker, rcpt)


# --- MX fallback -----------------------------------------------------------

@case("mx-fallback")
def case_mx_fallback(lab):
    """The preferred MX (pref 10) fails DANE (damaged digest), the next
    (pref 20) matches: delivered by the pref-20 host only, "verified";
    the pref-10 Postfix got nothing."""
    _root, inter, leaf = private_ca(lab, ["mx1.fallback.example",
                                          "mx2.fallback.example"])
    good = tlsa(leaf, 3, 1, 1)
    lab.zone("fallback.example", records=[
        "@ MX 10 mx1", "@ MX 20 mx2",
        "mx1 A 192.0.2.10", "mx2 A 192.0.2.20",
        "_25._tcp.mx1 TLSA " + damaged(good),
        "_25._tcp.mx2 TLSA " + good])
    cred = Credential(leaf, [inter])
    pf1 = lab.postfix("mx1.fallback.example", ["192.0.2.10"],
                      ["fallback.example"], cred)
    pf2 = lab.postfix("mx2.fallback.example", ["192.0.2.20"],
                      ["fallback.example"], cred)
    lab.start()
    expect_tlsa_secure("_25._tcp.mx1.fallback.example")
    expect_empty(pf1)
    expect_empty(pf2)
    msg, marker = message("fallback")
    run = lab.run_client(["user@fallback.example"], msg, TIMEOUT_ARGS)
    rec = expect_dane(run, "user@fallback.example", "verified", delivered=True)
    expect(same_host(rec.get("mx"), "mx2.fallback.example") and
           rec.get("address") == "192.0.2.20", "delivered via %r[%r]"
           % (rec.get("mx"), rec.get("address")))
    expect(any("connected to mx1.fallback.example" in l
               for l in run.stderr.splitlines()),
           "the client never connected to mx1: the fallback was not DANE's")
    expect_copies(pf2, "user@fallback.example", 1, marker)
    expect_empty(pf1)


# --- TLS levels ------------------------------------------------------------

@case("levels")
def case_levels(lab):
    """--tls-level may, encrypt, dane, dane-only against the same worlds:
      plain        unsigned, TLS Postfix
      clear        unsigned, scripted server without STARTTLS
      match        signed, TLSA matching the Postfix
      mismatch     signed, TLSA with a damaged digest
      unusable     signed, only unusable TLSA (1 1 1, 3 1 9), Postfix
      unusable-clr signed, only unusable TLSA, no STARTTLS
    Each run has its own recipient, so every copy is told apart."""
    cert = lab.pki.self_signed("mx.plain.example")
    good = tlsa(cert, 3, 1, 1)
    unusable = [tlsa(cert, 1, 1, 1), "3 1 9 " + tlsa(cert, 3, 1, 1).split()[3]]
    dane_zone(lab, "plain.example", "192.0.2.10", signed=False)
    dane_zone(lab, "clear.example", "192.0.2.20", signed=False)
    dane_zone(lab, "match.example", "192.0.2.10", [good])
    dane_zone(lab, "mismatch.example", "192.0.2.10", [damaged(good)])
    dane_zone(lab, "unusable.example", "192.0.2.10", unusable)
    dane_zone(lab, "unusable-clr.example", "192.0.2.21", unusable)
    pf = lab.postfix("mx.plain.example", ["192.0.2.10"],
                     ["plain.example", "match.example", "mismatch.example",
                      "unusable.example"], Credential(cert))
    clear = lab.smtp_server("192.0.2.20")
    unusable_clear = lab.smtp_server("192.0.2.21")
    lab.start()
    for d in ("match", "mismatch", "unusable", "unusable-clr"):
        expect_tlsa_secure("_25._tcp.mx.%s.example" % d)
    expect_empty(pf)
    msg, marker = message("levels")
    # (domain, level, delivered, dane, tls, target); the first run is at
    # level may, before any TLSA query: it must make none.
    plan = [
        ("mismatch", "may", True, "none", True, pf),
        ("plain", "may", True, "none", True, pf),
        ("plain", "encrypt", True, "none", True, pf),
        ("plain", "dane", True, "none", True, pf),
        ("plain", "dane-only", False, "failed", None, pf),
        ("clear", "may", True, "none", False, clear),
        ("clear", "dane", True, "none", False, clear),
        ("clear", "encrypt", False, "none", None, clear),
        ("match", "dane", True, "verified", True, pf),
        ("match", "dane-only", True, "verified", True, pf),
        ("mismatch", "encrypt", True, "none", True, pf),
        ("mismatch", "dane", False, "failed", None, pf),
        ("mismatch", "dane-only", False, "failed", None, pf),
        ("unusable", "dane", True, "unusable", True, pf),
        ("unusable", "encrypt", True, "none", True, pf),
        ("unusable", "dane-only", False, "failed", None, pf),
        # TLS is still mandatory; whether the JSON says the records were
        # unusable or that DANE failed is the client's choice.
        ("unusable-clr", "dane", False, ("failed", "unusable"), None,
         unusable_clear),
    ]
    failures = []
    for domain, level, delivered, dane, tls, target in plan:
        rcpt = "%s@%s.example" % (level, domain)
        before = target_connections(target)
        run = lab.run_client([rcpt], msg,
                             ["--tls-level", level] + TIMEOUT_ARGS)
        try:
            rec = expect_dane(run, rcpt, dane, delivered)
            if tls is not None:
                expect_tls(rec, tls)
            if len(lab.client_runs) == 1:
                asked = [q for q in lab.resolver_queries() if q[1] == "TLSA"]
                expect(not asked, "level may asked for TLSA: %r" % asked)
            if target is pf:
                expect_copies(pf, rcpt, 1 if delivered else 0,
                              marker if delivered else None)
                continue
            conns = new_connections(target, before)
            expect(conns and all(c.commands("EHLO") for c in conns),
                   "the client never reached EHLO at %s" % target.address)
            if delivered:
                expect_one_body(conns, marker, target.address)
            else:
                expect_nothing_sent(conns, target.address)
        except CaseFailure as e:
            failures.append("%s at level %s: %s" % (domain, level, e))
    expect(not failures, "%d of %d runs wrong:\n    %s"
           % (len(failures), len(plan), "\n    ".join(failures)))


@case("may-clear-retry")
def case_may_clear_retry(lab):
    """At level may, a TLS handshake that fails is retried once, on the
    same address, in clear (as Postfix does at "may"); never where TLSA
    records or the level demand TLS, nor at level dane without TLSA
    records (lab-mx-fallback-tls-failure: the next MX host instead).
    Every server offers STARTTLS, answers 220, then sends a plaintext line
    instead of a handshake; each domain has that one MX host:
      r1 level may                         -> delivered in clear, 2nd conn.
      r2 level dane, signed, no TLSA       -> deferred, one connection
      r3 level dane, TLSA records          -> deferred, one connection
      r4 level encrypt                     -> deferred, one connection
    """
    cert = lab.pki.self_signed("mx.retry.example")
    broken = {"tls": True, "tls_handshake": "garbage"}
    plan = [(1, "may", [], True), (2, "dane", [], False),
            (3, "dane", [tlsa(cert, 3, 1, 1)], False),
            (4, "encrypt", [], False)]
    servers = {}
    for n, _, records, _ in plan:
        address = "192.0.2.7%d" % n
        dane_zone(lab, "r%d.example" % n, address, records)
        servers[n] = lab.smtp_server(address, broken,
                                     credential=Credential(cert))
    lab.start()
    msg, marker = message("clear-retry")
    failures = []
    for n, level, _, delivered in plan:
        rcpt = "user@r%d.example" % n
        run = lab.run_client([rcpt], msg, TIMEOUT_ARGS +
                             ["--tls-level", level])
        try:
            expect_exit(run, EX_OK if delivered else EX_TEMPFAIL)
            rec = expect_result(run, rcpt, "delivered" if delivered
                                else "tempfail",
                                EX_OK if delivered else EX_TEMPFAIL)
            conns = servers[n].connections()
            if delivered:
                expect_tls(rec, False)
                expect(len(conns) == 2, "%d connections, expected 2 (TLS, "
                       "then clear)" % len(conns))
                expect(conns[0].commands("STARTTLS") and
                       not conns[1].commands("STARTTLS"),
                       "STARTTLS on the retry, or not on the first try")
                expect_nothing_sent(conns[:1], rcpt + " (TLS try)")
                expect_one_body(conns[1:], marker, rcpt)
            else:
                expect(len(conns) == 1, "%d connections, expected 1: no "
                       "retry in clear" % len(conns))
                expect_nothing_sent(conns, rcpt)
        except CaseFailure as e:
            failures.append("r%d (level %s): %s" % (n, level, e))
    expect(not failures, "\n    ".join(failures))


def long_chain(lab, tag, length, leaf_name, sans=None):
    """A leaf under `length` - 1 CAs (a root and intermediates), all sent:
    returns the Credential."""
    ca = lab.pki.root("Root %s" % tag)
    cas = [ca]
    for i in range(length - 2):
        ca = lab.pki.issue(ca, "CA %s %d" % (tag, i + 1), ca=True)
        cas.append(ca)
    leaf = lab.pki.issue(ca, leaf_name, sans=sans, file_tag="leaf-" + tag)
    return Credential(leaf, list(reversed(cas)))


# What the client accepts from a server, per wolfSSL build (meson passes
# the build as MXC_WOLFSSL).  Debian 12's wolfSSL 5.5.4 fixed its bounds
# when it was built (wolfssl/internal.h): MAX_CHAIN_DEPTH certificates, and
# a whole Certificate handshake message of MAX_HANDSHAKE_SZ bytes; neither
# can be raised at run time.  The subproject raises them
# (subprojects/wolfssl/meson.build) to the client's own bounds,
# TLS_CHAIN_MAX and TLS_CERT_MAX in src/tls.h.
#   build: (most certificates, largest certificate, largest message)
CHAIN_LIMITS = {
    "system": (9, None, 3 + (2048 + 3) * 9),
    "subproject": (20, 65536, 20 * (3 + 65536 + 2) + 3 + 256),
}


def chain_fits(build, certs):
    """Whether a chain of DER certificates (leaf first) should verify in
    this wolfSSL build, and why not."""
    most, largest, message_max = CHAIN_LIMITS[build]
    # TLS 1.3 Certificate message: context length, list length, and per
    # entry a length, the DER and an empty extensions block.
    message = 1 + 3 + sum(3 + len(c) + 2 for c in certs)
    if len(certs) > most:
        return False, "more than %d certificates" % most
    if largest is not None and max(len(c) for c in certs) > largest:
        return False, "a certificate over %d bytes" % largest
    if message > message_max:
        return False, "a message over %d bytes" % message_max
    return True, ""


@case("long-chains")
def case_long_chains(lab):
    """Long chains and large certificates with a DANE-EE record on the
    leaf.  The client keeps up to 20 certificates of up to 64 KB each
    (src/tls.h); the wolfSSL it links may take less (CHAIN_LIMITS above):
    Debian's at most 9 certificates and 18462 bytes in all, the subproject
    the client's own bounds.  Beyond a bound the handshake fails, nothing
    is sent, and the reason names the bound.  Scripted servers:
      l9      9 certificates                        system ok, subproject ok
      l10    10 certificates                        fails,     ok
      l20    20 certificates                        fails,     ok
      l21    21 certificates                        fails,     fails
      l25    25 certificates (wolfSSL stops at 21)  fails,     fails
      mid     3 certificates, the leaf about 12 KB  ok,        ok
      big     3 certificates, the leaf about 38 KB  fails,     ok
      max64   3 certificates, the leaf just < 64 KB fails,     ok
      over64  3 certificates, the leaf just > 64 KB fails,     fails
    and l25 again at level `may`: the TLS failure is quick, then clear.
    """
    build = os.environ.get("MXC_WOLFSSL", "system")
    expect(build in CHAIN_LIMITS, "MXC_WOLFSSL is %r" % build)

    def padding(n):
        """n filler subjectAltNames of 44 bytes each."""
        return ["h%04d.a-long-name-to-fill-the-san.big.example" % i
                for i in range(n)]
    plan = []  # (tag, credential, (smallest, largest) leaf DER size)
    for tag, length in (("l9", 9), ("l10", 10), ("l20", 20), ("l21", 21),
                        ("l25", 25)):
        plan.append((tag, long_chain(lab, tag, length, "mx.%s.example"
                                     % tag), None))
    for tag, sans, size in (("mid", 250, None),
                            ("big", 800, (33 * 1024, 60 * 1024)),
                            ("max64", 1350, (62 * 1024, 65536)),
                            ("over64", 1420, (65537, 70 * 1024))):
        plan.append((tag, long_chain(lab, tag, 3, "mx.%s.example" % tag,
                                     ["mx.%s.example" % tag]
                                     + padding(sans)), size))
    servers = {}
    for i, (tag, cred, _) in enumerate(plan):
        address = "192.0.2.8%d" % i
        dane_zone(lab, "%s.example" % tag, address,
                  [tlsa(cred.leaf, 3, 1, 1)])
        servers[tag] = lab.smtp_server(address, {"tls": True},
                                       credential=cred)
    lab.start()
    msg, marker = message("long-chains")
    failures = []
    outcomes = {}
    for tag, cred, size in plan:
        ders = [der_of(c) for c in [cred.leaf] + cred.chain]
        fits, why = chain_fits(build, ders)
        outcomes[tag] = fits
        rcpt = "user@%s.example" % tag
        run = lab.run_client([rcpt], msg, TIMEOUT_ARGS)
        print("  %-6s %2d certificates, leaf %5d bytes, %7d in all: "
              "expected %s %s" % (tag, len(ders), len(ders[0]),
                                  sum(map(len, ders)),
                                  "verified" if fits else "failed", why))
        try:
            if size is not None:
                expect(size[0] <= len(ders[0]) <= size[1],
                       "lab: the leaf has %d bytes, not %d to %d"
                       % (len(ders[0]), size[0], size[1]))
            rec = expect_dane(run, rcpt, "verified" if fits else "failed",
                              fits)
            conns = servers[tag].connections()
            expect(conns, "no connection")
            if fits:
                expect_one_body(conns, marker, rcpt)
            else:
                expect_nothing_sent(conns, rcpt)
                detail = rec.get("detail", "")
                print("         %s" % detail)
                # Debian's build fails inside wolfSSL, the subproject's
                # in the client's own checks.
                reason = "than this wolfSSL build accepts (handshake " \
                    "message too large; at most 9 certificates and " \
                    "18462 bytes in all)"
                if build == "subproject":
                    reason = {"more": "has more than 20 certificates",
                              "a ce": "is larger than 64 KB"}[why[:4]]
                expect(reason in detail, "the reason does not say %r: %r"
                       % (reason, detail))
        except CaseFailure as e:
            failures.append("%s (%d certificates): %s"
                            % (tag, len(ders), e))
    # Opportunistic TLS checks no certificate, but wolfSSL still cuts a
    # chain longer than its depth and misreads the rest: the handshake
    # must fail at once (then the clear retry of `may`), not hang until
    # the stage timeout.
    run = lab.run_client(["user@l25.example"], msg, TIMEOUT_ARGS +
                         ["--tls-level", "may"])
    try:
        rec = expect_result(run, "user@l25.example", "delivered", EX_OK)
        expect_tls(rec, False)
        expect(rec.get("elapsed_ms", 99999) < 3000, "l25 at level may "
               "took %s ms: the failed handshake waited for a timeout"
               % rec.get("elapsed_ms"))
    except CaseFailure as e:
        failures.append("l25 at level may: %s" % e)
    # The bounds themselves, so that a wrong MXC_WOLFSSL cannot pass.
    wanted = {"system": {"l9", "mid"},
              "subproject": {"l9", "l10", "l20", "mid", "big", "max64"}}
    expect({t for t, ok in outcomes.items() if ok} == wanted[build],
           "the chains expected to verify in the %s build are %s"
           % (build, sorted(t for t, ok in outcomes.items() if ok)))
    expect(not failures, "\n    ".join(failures))


def der_of(cert):
    """A lab certificate in DER."""
    return subprocess.run(["openssl", "x509", "-in", cert.cert_path,
                           "-outform", "DER"], capture_output=True,
                          check=True).stdout


# --- CNAME'd MX host -------------------------------------------------------

@case("cname")
def case_cname(lab):
    """An MX host that is a CNAME (RFC 7672 2.2.2), both zones signed:
      a1 -> b1, TLSA only at the target     -> verified, SNI mx.b1.example
      a2 -> b2, TLSA only at the MX name    -> verified, SNI mx.a2.example
      a3 -> b3, target's TLSA mismatches, the MX name's matches: the
               target's records decide      -> failed, nothing sent
    """
    cert = lab.pki.self_signed("mx.cname.example")
    good = tlsa(cert, 3, 1, 1)
    worlds = [  # (n, TLSA at the MX name, TLSA at the target, verified)
        (1, [], [good], True),
        (2, [good], [], True),
        (3, [good], [damaged(good)], False),
    ]
    servers = {}
    for n, at_name, at_target, _ in worlds:
        lab.zone("a%d.example" % n, records=[
            "@ MX 10 mx", "mx CNAME mx.b%d.example." % n]
            + ["_25._tcp.mx TLSA " + r for r in at_name])
        lab.zone("b%d.example" % n, records=[
            "mx A 192.0.2.3%d" % n]
            + ["_25._tcp.mx TLSA " + r for r in at_target])
        servers[n] = lab.smtp_server("192.0.2.3%d" % n, {"tls": True},
                                     credential=Credential(cert))
    lab.start()
    expect_dns("mx.a1.example", "A", "NOERROR", ad=True)
    msg, marker = message("cname")
    failures = []
    for n, at_name, at_target, verified in worlds:
        rcpt = "user@a%d.example" % n
        base = "mx.b%d.example" % n if at_target else "mx.a%d.example" % n
        run = lab.run_client([rcpt], msg, TIMEOUT_ARGS)
        try:
            expect_dane(run, rcpt, "verified" if verified else "failed",
                        verified)
            conns = servers[n].connections()
            if verified:
                expect_one_body(conns, marker, rcpt)
                expect(conns[-1].sni == base, "SNI %r, expected the TLSA "
                       "base domain %s" % (conns[-1].sni, base))
            else:
                expect(conns, "no connection: the failure was not DANE's")
                expect_nothing_sent(conns, rcpt)
        except CaseFailure as e:
            failures.append("a%d (TLSA at %s): %s" % (n, base, e))
    expect(not failures, "\n    ".join(failures))


@case("cname-insecure-target")
def case_cname_insecure_target(lab):
    """A secure MX host name that is a CNAME into an unsigned zone (RFC
    7672 2.2.2): the addresses are insecure, but the TLSA records at
    _25._tcp.<MX host name> are signed and still apply, with the MX host
    name as TLSA base domain (SNI).  Whoever forges the unsigned A record
    must not get the mail:
      i1: TLSA at the MX name matches        -> verified, SNI mx.i1.example
      i2: TLSA at the MX name mismatches     -> failed, nothing sent
      i3: no TLSA at the MX name (denied)    -> none, delivered
    posttls-finger must give the same verdicts."""
    cert = lab.pki.self_signed("mx.cname.example")
    good = tlsa(cert, 3, 1, 1)
    worlds = [(1, [good], "verified"), (2, [damaged(good)], "failed"),
              (3, [], "none")]
    servers = {}
    for n, at_name, _ in worlds:
        lab.zone("i%d.example" % n, records=[
            "@ MX 10 mx", "mx CNAME mx.u%d.example." % n]
            + ["_25._tcp.mx TLSA " + r for r in at_name])
        lab.zone("u%d.example" % n, signed=False,
                 records=["mx A 192.0.2.4%d" % n])
        servers[n] = lab.smtp_server("192.0.2.4%d" % n, {"tls": True},
                                     credential=Credential(cert))
    lab.start()
    expect_dns("mx.i1.example", "A", "NOERROR", ad=False)
    expect_tlsa_secure("_25._tcp.mx.i1.example")
    msg, marker = message("cname-insecure")
    failures = []
    for n, _, want in worlds:
        rcpt = "user@i%d.example" % n
        run = lab.run_client([rcpt], msg, TIMEOUT_ARGS)
        finger = lab.posttls_finger("i%d.example" % n)
        print("  i%d expected %-8s posttls-finger %s" % (n, want,
                                                        finger.verdict))
        try:
            expect(finger.verdict == want, "posttls-finger says %s"
                   % finger.verdict)
            rec = expect_dane(run, rcpt, want, want != "failed")
            conns = servers[n].connections()
            expect(conns, "no connection: the failure was not DANE's")
            if want == "failed":
                expect_nothing_sent(conns, rcpt)
            else:
                expect_one_body(conns, marker, rcpt)
                expect_tls(rec, True)
            if want == "verified":
                sni = [c.sni for c in conns if c.bodies]
                expect(sni == ["mx.i%d.example" % n], "SNI %r, expected "
                       "the TLSA base domain mx.i%d.example" % (sni, n))
        except CaseFailure as e:
            failures.append("i%d (expected %s): %s" % (n, want, e))
    expect(not failures, "\n    ".join(failures))


# --- posttls-finger agreement ----------------------------------------------

@case("posttls-finger")
def case_posttls_finger(lab):
    """Postfix's posttls-finger and the client agree on every lab host:
    DANE-EE and DANE-TA matches, a mismatch, no DANE, unusable records,
    bogus and SERVFAILing TLSA, a DANE-TA leaf with the wrong name (and
    DANE-EE on it), a CNAME'd MX host, digest agility (a right SHA2-256
    record beside a wrong SHA2-512 one: failed).  Both must give the expected
    verdict; the case reports each host's pair."""
    hosts = ["ee", "ta", "mismatch", "nodane", "unusable", "bogus",
             "servfail", "cname", "agility"]
    _root, inter, leaf = private_ca(
        lab, ["mx.f-%s.example" % h for h in hosts] + ["mx.f-target.example"])
    wrong = lab.pki.issue(inter, "other-host.example")
    ee = tlsa(leaf, 3, 1, 1)
    dane_zone(lab, "f-ee.example", "192.0.2.10", [ee])
    dane_zone(lab, "f-ta.example", "192.0.2.10", [tlsa(inter, 2, 0, 1)])
    dane_zone(lab, "f-mismatch.example", "192.0.2.10", [damaged(ee)])
    # RFC 7671 9: the wrong SHA2-512 record outranks the right SHA2-256
    dane_zone(lab, "f-agility.example", "192.0.2.10",
              [ee, damaged(tlsa(leaf, 3, 1, 2))])
    dane_zone(lab, "f-nodane.example", "192.0.2.10", signed=False)
    dane_zone(lab, "f-unusable.example", "192.0.2.10",
              [tlsa(leaf, 1, 1, 1), "3 1 9 " + ee.split()[3]])
    dane_zone(lab, "f-bogus.example", "192.0.2.10", [ee],
              corrupt_rrsig="TLSA")
    dane_zone(lab, "f-servfail.example", "192.0.2.10")
    lab.servfail_name("_25._tcp.mx.f-servfail.example")
    lab.zone("f-cname.example", records=["@ MX 10 mx",
                                         "mx CNAME mx.f-target.example."])
    lab.zone("f-target.example", records=["mx A 192.0.2.10",
                                          "_25._tcp.mx TLSA " + ee])
    dane_zone(lab, "f-taname.example", "192.0.2.11", [tlsa(inter, 2, 0, 1)])
    dane_zone(lab, "f-eename.example", "192.0.2.11", [tlsa(wrong, 3, 1, 1)])
    pf = lab.postfix("mx.f-ee.example", ["192.0.2.10"],
                     ["f-%s.example" % h for h in hosts],
                     Credential(leaf, [inter]))
    pf_wrong = lab.postfix("other-host.example", ["192.0.2.11"],
                           ["f-taname.example", "f-eename.example"],
                           Credential(wrong, [inter]))
    lab.start()
    expected = {"ee": "verified", "ta": "verified", "mismatch": "failed",
                "nodane": "none", "unusable": "unusable", "bogus": "failed",
                "servfail": "failed", "cname": "verified",
                "agility": "failed",
                "taname": "failed", "eename": "verified"}
    msg, marker = message("finger")
    failures = []
    for host, want in expected.items():
        domain = "f-%s.example" % host
        rcpt = "user@" + domain
        run = lab.run_client([rcpt], msg, TIMEOUT_ARGS)
        rec = run.records[0] if len(run.records) == 1 else {}
        finger = lab.posttls_finger(domain)
        print("  %-10s expected %-8s mxclient %-8s posttls-finger %s"
              % (host, want, rec.get("dane"), finger.verdict))
        try:
            expect(finger.verdict == want, "posttls-finger says %s"
                   % finger.verdict)
            expect_dane(run, rcpt, want, delivered=want != "failed")
            target = pf_wrong if host in ("taname", "eename") else pf
            expect_copies(target, rcpt, 0 if want == "failed" else 1)
        except CaseFailure as e:
            failures.append("%s (expected %s; mxclient %r, posttls-finger "
                            "%s): %s" % (host, want, rec.get("dane"),
                                         finger.verdict, e))
    expect(not failures, "%d of %d hosts wrong:\n    %s"
           % (len(failures), len(expected), "\n    ".join(failures)))


@case("evidence")
def case_evidence(lab):
    """The result carries the DANE evidence as data, and it is what the lab
    published: the matched TLSA record is the published one (DANE-EE, and
    DANE-TA at depth 1 beside a damaged record), the certificate
    fingerprints are those of the lab's leaf, both DNSSEC statuses secure,
    cipher and group named, one attempt that carried the mail.  -v prints
    the same evidence as posttls-finger would."""
    import hashlib
    import re
    _root, inter, leaf = private_ca(lab, ["mx.ev-ee.example",
                                          "mx.ev-ta.example"])
    ee = tlsa(leaf, 3, 1, 1)
    ta = tlsa(inter, 2, 0, 1)
    dane_zone(lab, "ev-ee.example", "192.0.2.10", [ee])
    dane_zone(lab, "ev-ta.example", "192.0.2.10", [damaged(ee), ta])
    pf = lab.postfix("mx.ev-ee.example", ["192.0.2.10"],
                     ["ev-ee.example", "ev-ta.example"],
                     Credential(leaf, [inter]))
    lab.start()
    cert_sha = hashlib.sha256(der_of(leaf)).hexdigest()
    pkey_sha = hashlib.sha256(leaf.spki).hexdigest()
    msg, _ = message("evidence")
    for domain, record, depth, published in (
            ("ev-ee.example", ee, 0, [ee]),
            ("ev-ta.example", ta, 1, [damaged(ee), ta])):
        rcpt = "user@" + domain
        run = lab.run_client([rcpt], msg, TIMEOUT_ARGS + ["-v"])
        rec = expect_dane(run, rcpt, "verified", delivered=True)
        usage, selector, mtype, data = record.split()
        want = {"usage": int(usage), "selector": int(selector),
                "mtype": int(mtype), "data": data.lower()}
        expect(rec.get("tlsa_matched") == want, "%s: tlsa_matched %r, "
               "published %r" % (domain, rec.get("tlsa_matched"), want))
        expect(rec.get("tlsa_matched_depth") == depth, "%s: depth %r"
               % (domain, rec.get("tlsa_matched_depth")))
        seen = ["%d %d %d %s" % (t["usage"], t["selector"], t["mtype"],
                                 t["data"]) for t in rec.get("tlsa", [])]
        expect(sorted(seen) == sorted(r.lower() for r in published),
               "%s: tlsa %r, published %r" % (domain, seen, published))
        cert = rec.get("certificate") or {}
        expect(cert.get("sha256") == cert_sha, "%s: certificate sha256 %r, "
               "the lab's leaf is %s" % (domain, cert.get("sha256"), cert_sha))
        expect(cert.get("pkey_sha256") == pkey_sha, "%s: pkey_sha256 %r, "
               "the lab's key is %s" % (domain, cert.get("pkey_sha256"),
                                        pkey_sha))
        expect("CN=mx.ev-ee.example" in cert.get("subject", ""),
               "%s: subject %r" % (domain, cert.get("subject")))
        expect("CN=Lab Intermediate CA" in cert.get("issuer", ""),
               "%s: issuer %r" % (domain, cert.get("issuer")))
        expect(rec.get("dnssec") == {"mx": "secure", "address": "secure"},
               "%s: dnssec %r" % (domain, rec.get("dnssec")))
        expect(rec.get("cipher", "").startswith("TLS_") and rec.get("group"),
               "%s: cipher %r group %r" % (domain, rec.get("cipher"),
                                           rec.get("group")))
        # The final reply: the dot's, or BDAT LAST's where offered.
        expect(rec.get("kind") == "none" and
               rec.get("stage") in ("dot", "bdat"),
               "%s: kind %r stage %r" % (domain, rec.get("kind"),
                                         rec.get("stage")))
        attempts = rec.get("attempts", [])
        expect(len(attempts) == 1 and attempts[0].get("address")
               == "192.0.2.10" and attempts[0].get("kind") == "none",
               "%s: attempts %r" % (domain, attempts))
        expect(rec.get("sender") == "lab-sender@sender.example",
               "%s: sender %r" % (domain, rec.get("sender")))
        expect(rec.get("reply_code") == 250 and
               rec.get("enhanced", "").startswith("2."),
               "%s: reply %r %r" % (domain, rec.get("reply_code"),
                                    rec.get("enhanced")))
        # -v: the full matched record and posttls-finger's fingerprints
        colon = ":".join(re.findall("..", pkey_sha.upper()))
        for line in ("DANE matched at depth %d: %s" % (depth, record.lower()),
                     "pkey_fingerprint=" + colon):
            expect(line in run.stderr, "%s: -v lacks %r" % (domain, line))
    expect_copies(pf, "user@ev-ee.example", 1)
    expect_copies(pf, "user@ev-ta.example", 1)


if __name__ == "__main__":
    sys.exit(labrun.main(CASES, sys.argv[1:]))
