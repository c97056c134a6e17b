#!/usr/bin/env python3
"""sigcheck against replies signed by dnspython.

dnspython (Debian's python3-dnspython, with python3-cryptography) makes the
keys, signs the RRsets with its own implementation of RFC 4034's canonical
form and builds the replies (with name compression); sigcheck_driver hands
each to sigcheck_reply().  Every table row says what the reply must come out
as: "secure", or "unsure" (left to getdns).  A row that expects "unsure"
and gets "secure" is a DNSSEC downgrade; one that expects "secure" and gets
"unsure" only costs speed, but the table must hold both ways.

Usage: test_sigcheck.py DRIVER.  Exit 77 (skip) without dnspython.
"""
import os
import subprocess
import sys
import time

try:
    import dns.dnssec
    import dns.flags
    import dns.message
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
except ImportError:
    # Debian's python3 holds Debian's python3-dnspython; a python3 of
    # another origin first in PATH may not.
    if sys.executable != "/usr/bin/python3" and os.path.exists(
            "/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("SKIP: python3-dnspython and python3-cryptography are needed")
    sys.exit(77)

NOW = int(time.time())
A, NS, CNAME, SOA, MX, AAAA, TLSA = 1, 2, 5, 6, 15, 28, 52


def private_key(alg):
    """A new private key of a DNSSEC algorithm."""
    if alg == 8:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == 13:
        return ec.generate_private_key(ec.SECP256R1())
    if alg == 14:
        return ec.generate_private_key(ec.SECP384R1())
    return ed25519.Ed25519PrivateKey.generate()


class Zone:
    """A zone with one signing key (flags 256)."""

    def __init__(self, origin, alg):
        self.origin = dns.name.from_text(origin)
        self.alg = alg
        self.key = private_key(alg)
        self.dnskey = dns.dnssec.make_dnskey(self.key.public_key(), alg,
                                             flags=256)

    def name(self, rel):
        return dns.name.from_text(rel, self.origin)

    def rrset(self, rel, rtype, *texts, ttl=300):
        rds = [dns.rdata.from_text("IN", rtype, t, origin=self.origin,
                                   relativize=False)
               for t in texts]
        return dns.rrset.from_rdata_list(self.name(rel), ttl, rds)

    def sign(self, rrset, inception=NOW - 3600, expiration=NOW + 86400,
             signer=None, key=None, dnskey=None):
        """The RRSIG RRset over rrset."""
        sig = dns.dnssec.sign(rrset, key or self.key,
                              signer or self.origin, dnskey or self.dnskey,
                              inception=inception, expiration=expiration)
        return dns.rrset.from_rdata(rrset.name, rrset.ttl, sig)

    def key_line(self):
        return "key %s %s" % (self.origin.to_text(),
                              self.dnskey.to_wire().hex())


def reply(qname, qtype, answer=(), authority=(), rcode=0, edns=True):
    """A response to a query for qname/qtype with the given sections."""
    q = dns.message.make_query(qname, qtype, want_dnssec=edns,
                               use_edns=0 if edns else None)
    r = dns.message.make_response(q)
    r.set_rcode(rcode)
    r.flags |= dns.flags.AA
    for s in answer:
        r.answer.append(s)
    for s in authority:
        r.authority.append(s)
    return r


def resign_sig(sigset, **changes):
    """The RRSIG RRset with its one signature's fields changed."""
    rd = sigset[0].replace(**changes)
    return dns.rrset.from_rdata(sigset.name, sigset.ttl, rd)


def flip(data, at=-1):
    b = bytearray(data)
    b[at] ^= 0x01
    return bytes(b)


def main():
    driver = sys.argv[1]
    zones = {alg: Zone("alg%d.sc.example." % alg, alg)
             for alg in (8, 13, 14, 15)}
    z = zones[13]
    other = Zone("other.example.", 13)      # held, but signs nothing here
    unheld = Zone("alg13.sc.example.", 13)  # same name, key never held

    rows = []   # (label, qname, qtype, wire, now, expected)

    def row(label, qname, qtype, msg, expected, now=NOW):
        wire = msg if isinstance(msg, bytes) else msg.to_wire()
        rows.append((label, qname, qtype, wire, now, expected))

    # Each algorithm: MX (exchange compressed), A, TLSA, AAAA NODATA.
    for alg, zz in zones.items():
        mx = zz.rrset("@", "MX", "10 mx", "20 mx2")
        a = zz.rrset("mx", "A", "192.0.2.1", "192.0.2.2")
        tlsa = zz.rrset("_25._tcp.mx", "TLSA", "3 1 1 " + "ab" * 32)
        nsec = zz.rrset("mx", "NSEC", "mx2.%s A RRSIG NSEC"
                        % zz.origin.to_text(), ttl=300)
        origin = zz.origin.to_text()
        row("alg %d MX" % alg, origin, MX,
            reply(origin, "MX", [mx, zz.sign(mx)]), "secure")
        row("alg %d A" % alg, "mx." + origin, A,
            reply("mx." + origin, "A", [a, zz.sign(a)]), "secure")
        row("alg %d TLSA" % alg, "_25._tcp.mx." + origin, TLSA,
            reply("_25._tcp.mx." + origin, "TLSA", [tlsa, zz.sign(tlsa)]),
            "secure")
        row("alg %d AAAA NODATA" % alg, "mx." + origin, AAAA,
            reply("mx." + origin, "AAAA", [],
                  [nsec, zz.sign(nsec)]), "secure")

    o = z.origin.to_text()
    mxn = "mx." + o
    a = z.rrset("mx", "A", "192.0.2.1", "192.0.2.2")
    asig = z.sign(a)
    good = reply(mxn, "A", [a, asig])

    # Changes a validator must accept.
    a_ttl = z.rrset("mx", "A", "192.0.2.1", "192.0.2.2", ttl=86400)
    row("TTL above the original TTL", mxn, A,
        reply(mxn, "A", [a_ttl, asig]), "secure")
    upper = dns.name.from_text("MX.ALG13.Sc.Example.")
    a_up = dns.rrset.from_text(upper, 300, "IN", "A", "192.0.2.2",
                               "192.0.2.1")
    row("owner in other case, records in other order", mxn, A,
        reply("Mx.ALG13.sc.example.", "A",
              [a_up, dns.rrset.from_rdata(upper, 300, asig[0])]), "secure")
    dup = good.to_wire()
    if good.additional or good.opt:
        dup = reply(mxn, "A", [a, asig], edns=False).to_wire()
    # A duplicate record appended to the answer section (the last one
    # without EDNS): RFC 4034 6.3 drops it before checking.
    rr = (dns.name.from_text(mxn).to_wire() + bytes([0, 1, 0, 1, 0, 0, 1,
          44, 0, 4, 192, 0, 2, 1]))
    dup = dup[:6] + (int.from_bytes(dup[6:8], "big") + 1).to_bytes(
        2, "big") + dup[8:] + rr
    row("duplicate record", mxn, A, dup, "secure")
    bad_first = dns.rrset.from_rdata(asig.name, asig.ttl, asig[0].replace(
        signature=flip(asig[0].signature)), z.sign(a)[0])
    row("a bad RRSIG and a good one", mxn, A,
        reply(mxn, "A", [a, bad_first]), "secure")

    # Changes that must be refused.
    row("signature changed", mxn, A, reply(mxn, "A", [a, resign_sig(
        asig, signature=flip(asig[0].signature))]), "unsure")
    a2 = z.rrset("mx", "A", "192.0.2.1", "192.0.2.3")
    row("address changed", mxn, A, reply(mxn, "A", [a2, asig]), "unsure")
    a3 = z.rrset("mx", "A", "192.0.2.1", "192.0.2.2", "192.0.2.3")
    row("record added", mxn, A, reply(mxn, "A", [a3, asig]), "unsure")
    a1 = z.rrset("mx", "A", "192.0.2.1")
    row("record removed", mxn, A, reply(mxn, "A", [a1, asig]), "unsure")
    row("no RRSIG", mxn, A, reply(mxn, "A", [a]), "unsure")
    row("expired", mxn, A, good, "unsure", now=NOW + 86401)
    row("not yet valid", mxn, A, good, "unsure", now=NOW - 3601)
    row("original TTL changed", mxn, A, reply(mxn, "A", [a, resign_sig(
        asig, original_ttl=600)]), "unsure")
    row("labels changed", mxn, A, reply(mxn, "A", [a, resign_sig(
        asig, labels=2)]), "unsure")
    row("key tag changed", mxn, A, reply(mxn, "A", [a, resign_sig(
        asig, key_tag=(asig[0].key_tag + 1) % 65536)]), "unsure")
    row("algorithm changed", mxn, A, reply(mxn, "A", [a, resign_sig(
        asig, algorithm=14)]), "unsure")
    row("signed by a key not held", mxn, A, reply(mxn, "A", [a,
        unheld.sign(a)]), "unsure")
    row("signer a held zone not enclosing the name", mxn, A, reply(
        mxn, "A", [a, other.sign(a)]), "unsure")
    row("signer name not held", mxn, A, reply(mxn, "A", [a, z.sign(
        a, signer=dns.name.from_text("sc.example."))]), "unsure")
    row("type covered is another", mxn, A, reply(mxn, "A", [a, resign_sig(
        asig, type_covered=dns.rdatatype.AAAA)]), "unsure")
    row("question is another type", mxn, AAAA, good, "unsure")
    row("another name asked", "mx2." + o, A, good, "unsure")
    row("SERVFAIL", mxn, A, reply(mxn, "A", [a, asig], rcode=2), "unsure")
    row("NXDOMAIN", mxn, A, reply(mxn, "A", [], [], rcode=3), "unsure")
    tc = reply(mxn, "A", [a, asig])
    tc.flags |= dns.flags.TC
    row("truncated", mxn, A, tc, "unsure")
    ext = reply(mxn, "A", [a, asig])
    ext.use_edns(0, dns.flags.DO, 1232)
    ext.set_rcode(16)   # BADVERS: an extended rcode
    row("extended rcode", mxn, A, ext, "unsure")
    # Wildcard: the RRSIG is over *.w (labels 4); the answer is x.w.
    w = z.rrset("*.w", "A", "192.0.2.9")
    wsig = z.sign(w)
    xw = z.name("x.w")
    row("wildcard expansion", xw.to_text(), A, reply(xw.to_text(), "A", [
        dns.rrset.from_rdata(xw, 300, w[0]),
        dns.rrset.from_rdata(xw, 300, wsig[0])]), "unsure")
    cname = z.rrset("alias", "CNAME", "mx")
    row("CNAME then the records", "alias." + o, A, reply(
        "alias." + o, "A", [cname, z.sign(cname), a, asig]), "unsure")

    # NODATA.
    def nodata(label, types, expected, owner="mx", qtype="AAAA",
               qcode=AAAA, signed=True):
        nsec = z.rrset(owner, "NSEC", "zz.%s %s" % (o, types))
        auth = [nsec, z.sign(nsec)] if signed else [nsec]
        qn = mxn if owner != "@" else o
        row(label, qn, qcode, reply(qn, qtype, [], auth), expected)

    nodata("NODATA", "A RRSIG NSEC", "secure")
    nodata("NODATA, NSEC lists the type", "A AAAA RRSIG NSEC", "unsure")
    nodata("NODATA, NSEC lists CNAME", "CNAME RRSIG NSEC", "unsure")
    nodata("NODATA, NSEC without RRSIG", "A RRSIG NSEC", "unsure",
           signed=False)
    nodata("NODATA, parent side of a delegation", "NS RRSIG NSEC",
           "unsure")
    nodata("NODATA, delegation with DS, parent side", "NS DS RRSIG NSEC",
           "unsure")
    nodata("NODATA at the apex (NS and SOA)", "NS SOA MX RRSIG NSEC DNSKEY",
           "secure", owner="@", qtype="TLSA", qcode=TLSA)
    nodata("NODATA, types in a high window", "A RRSIG NSEC TYPE1234",
           "secure")
    cover = z.rrset("ma", "NSEC", "my.%s A RRSIG NSEC" % o)
    row("NODATA, NSEC only covering the name", mxn, AAAA, reply(
        mxn, "AAAA", [], [cover, z.sign(cover)]), "unsure")
    row("NODATA without NSEC", mxn, AAAA, reply(mxn, "AAAA", []),
        "unsure")
    asig_only = reply(mxn, "A", [asig])
    row("RRSIG without records", mxn, A, asig_only, "unsure")

    # NODATA proven by NSEC3 (RFC 5155 8.5).
    def nsec3(label, types, expected, params="1 0 10 aabbccdd",
              hashed=mxn, qtype="AAAA", qcode=AAAA, signer=None,
              owner_zone=None):
        alg, flags, iters, salt = params.split()
        h = dns.dnssec.nsec3_hash(hashed, None if salt == "-" else salt,
                                  int(iters), 1).lower()
        owner = dns.name.from_text(h, dns.name.from_text(owner_zone or o))
        rd = dns.rdata.from_text("IN", "NSEC3", "%s %s %s %s %s %s" % (
            alg, flags, iters, salt, "0" * 32, types))
        n3 = dns.rrset.from_rdata(owner, 300, rd)
        row(label, mxn, qcode, reply(mxn, qtype, [], [n3, z.sign(
            n3, signer=signer)]), expected)

    nsec3("NSEC3 NODATA", "A RRSIG", "secure")
    nsec3("NSEC3 NODATA, no salt, no iterations", "A RRSIG", "secure",
          params="1 0 0 -")
    nsec3("NSEC3 NODATA, opt-out flag", "A RRSIG", "secure",
          params="1 1 5 ab")
    nsec3("NSEC3 lists the type", "A AAAA RRSIG", "unsure")
    nsec3("NSEC3 lists CNAME", "CNAME RRSIG", "unsure")
    nsec3("NSEC3 of the parent side of a delegation", "NS DS RRSIG",
          "unsure")
    nsec3("NSEC3 for another name", "A RRSIG", "unsure", hashed="mx2." + o)
    nsec3("NSEC3 with unknown flags", "A RRSIG", "unsure",
          params="1 2 10 aabbccdd")
    nsec3("NSEC3 with too many iterations", "A RRSIG", "unsure",
          params="1 0 151 aabbccdd")
    nsec3("NSEC3 owned two labels below the zone", "A RRSIG", "unsure",
          owner_zone="x." + o, signer=z.origin)
    # Below a name that is not the zone (here the name asked itself):
    # the hash matches, the signer is a held zone, but not its parent.
    nsec3("NSEC3 not right below its signer", "A RRSIG", "unsure",
          owner_zone=mxn, signer=z.origin)
    nsec3("NSEC3 owned by another zone", "A RRSIG", "unsure",
          owner_zone="sc.example.", signer=dns.name.from_text(
              "sc.example."))

    # Keys the check must read right, or refuse (dnssig_wolfssl.c).
    def rekeyed(origin, alg, wire, key=None):
        """A zone whose held DNSKEY is `wire` (RDATA after flags,
        protocol and algorithm), signing with `key`."""
        zz = Zone(origin, alg)
        if key is not None:
            zz.key = key
        rd = bytes([1, 0, 3, alg]) + wire
        zz.dnskey = dns.rdata.from_wire("IN", "DNSKEY", rd, 0, len(rd))
        extra.append(zz)
        return zz

    def key_row(label, zz, expected):
        rr = zz.rrset("mx", "A", "192.0.2.1")
        name = "mx." + zz.origin.to_text()
        row(label, name, A, reply(name, "A", [rr, zz.sign(rr)]), expected)

    extra = []
    rsa_key = private_key(8)
    nums = rsa_key.public_key().public_numbers()
    e = nums.e.to_bytes(3, "big")
    n = nums.n.to_bytes(256, "big")
    key_row("RSA exponent length in three octets (RFC 3110)",
            rekeyed("rsalong.sc.example.", 8, b"\0\0\3" + e + n, rsa_key),
            "secure")
    small = rsa.generate_private_key(public_exponent=65537, key_size=768)
    sn = small.public_key().public_numbers()
    key_row("RSA key of 768 bits (left to getdns)",
            rekeyed("rsa768.sc.example.", 8, b"\3" + sn.e.to_bytes(3, "big") +
                    sn.n.to_bytes(96, "big"), small), "unsure")
    p256 = zones[13].dnskey.key
    key_row("ECDSA P-256 key one octet short",
            rekeyed("p256short.sc.example.", 13, p256[:-1],
                    zones[13].key), "unsure")
    ed = zones[15].dnskey.key
    key_row("Ed25519 key one octet long",
            rekeyed("edlong.sc.example.", 15, ed + b"\0", zones[15].key),
            "unsure")

    # Malformed wire.
    base = reply(mxn, "A", [a, asig]).to_wire()
    loop = bytearray(base[:12]) + bytes([0xC0, 12]) + base[-4:]
    row("compression loop in the question", mxn, A, bytes(loop), "unsure")
    row("cut short", mxn, A, base[:len(base) - 10], "unsure")
    row("header only", mxn, A, base[:12], "unsure")
    row("empty", mxn, A, b"\x00", "unsure")

    # Drive it.
    lines = [zz.key_line() for zz in zones.values()]
    lines += [other.key_line()] + [zz.key_line() for zz in extra]
    lines.append("learn")
    for label, qname, qtype, wire, now, expected in rows:
        lines.append("check %s %d %d %s" % (qname, qtype, now, wire.hex()))
    # After forgetting, the best reply is no longer secure.
    lines.append("forget")
    lines.append("check %s %d %d %s" % (mxn, A, NOW, good.to_wire().hex()))
    rows.append(("keys forgotten", mxn, A, b"", NOW, "unsure"))
    proc = subprocess.run([driver], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout.splitlines()
    failed = 0
    if proc.returncode != 0 or len(out) != len(rows):
        print("driver exit %d, %d verdicts for %d rows\n%s"
              % (proc.returncode, len(out), len(rows), proc.stderr))
        return 1
    for (label, _, _, _, _, expected), got in zip(rows, out):
        ok = got.split(":")[0] == expected
        print("%s %s: %s" % ("ok  " if ok else "FAIL", label, got))
        failed += 0 if ok else 1
    print("%d rows, %d failed" % (len(rows), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
