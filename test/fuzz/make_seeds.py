#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into corpus/<target>/.

Seeds are small and meaningful: real SMTP replies and EHLO texts,
messages, addresses, SOCKS5 replies, DNS wire answers built by hand (no
dnspython here), trust-anchor files, and TLSA records with the
certificates of test/unit/data/dane (digests from the openssl CLI).
Regenerating writes the same files (DANE digests depend on the fixtures).

Usage: make_seeds.py   (from any directory)
"""
import hashlib
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
DANE_DIR = os.path.join(HERE, "..", "unit", "data", "dane")

TYPES = {"MX": 15, "A": 1, "AAAA": 28, "TLSA": 52, "CNAME": 5}
# Selector byte of the target: which dns_type is asked.
ASK = {"MX": 0, "A": 1, "AAAA": 2, "TLSA": 3}
# DNSSEC status byte: 0 secure, 1 bogus, 2 indeterminate, 3 insecure.


def name(text, comp=None):
    """Wire form of a name; comp: offset to point at instead of the root."""
    out = b""
    for label in [x for x in text.split(".") if x]:
        out += bytes([len(label)]) + label.encode()
    if comp is not None:
        return out + struct.pack("!H", 0xC000 | comp)
    return out + b"\0"


def rr(owner, rtype, rdata, ttl=300):
    """One resource record; owner already in wire form."""
    return owner + struct.pack("!HHIH", TYPES[rtype], 1, ttl, len(rdata)) + rdata


def msg(qname, qtype, answers=(), rcode=0, flags=0x8180):
    """A response: header, one question, the given answer records."""
    head = struct.pack("!HHHHHH", 0x1234, flags | rcode, 1, len(answers), 0, 0)
    question = name(qname) + struct.pack("!HH", TYPES[qtype], 1)
    return head + question + b"".join(answers)


def seed(outdir, fname, ask, status, wire):
    with open(os.path.join(outdir, fname), "wb") as f:
        f.write(bytes([ASK[ask], status]) + wire)


def dns_seeds():
    outdir = os.path.join(CORPUS, "dns")
    os.makedirs(outdir, exist_ok=True)
    q = 12  # offset of the question name: compression target
    mx = lambda pref, host: struct.pack("!H", pref) + name(host)
    seed(outdir, "mx-two", "MX", 0, msg("example.net", "MX", [
        rr(name("", q), "MX", mx(10, "mx1.example.net")),
        rr(name("", q), "MX", mx(20, "mx2.example.net"))]))
    seed(outdir, "mx-null", "MX", 0, msg("example.net", "MX", [
        rr(name("", q), "MX", struct.pack("!H", 0) + b"\0")]))
    seed(outdir, "mx-nodata", "MX", 3, msg("example.net", "MX"))
    seed(outdir, "mx-nxdomain", "MX", 0, msg("nx.example.net", "MX", rcode=3))
    seed(outdir, "mx-servfail", "MX", 3, msg("example.net", "MX", rcode=2))
    seed(outdir, "mx-bogus", "MX", 1, msg("example.net", "MX", [
        rr(name("", q), "MX", mx(10, "mx1.example.net"))]))
    seed(outdir, "a-cname", "A", 0, msg("www.example.net", "A", [
        rr(name("", q), "CNAME", name("host.example.net")),
        rr(name("host.example.net"), "A", bytes([192, 0, 2, 10]))]))
    seed(outdir, "a-other-owner", "A", 3, msg("mx1.example.net", "A", [
        rr(name("other.example.net"), "A", bytes([192, 0, 2, 11]))]))
    seed(outdir, "aaaa", "AAAA", 0, msg("mx1.example.net", "AAAA", [
        rr(name("", q), "AAAA", bytes([0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [1]))]))
    seed(outdir, "aaaa-short", "AAAA", 3, msg("mx1.example.net", "AAAA", [
        rr(name("", q), "AAAA", bytes([0x20, 0x01, 0x0d, 0xb8]))]))
    digest = bytes(range(32))
    seed(outdir, "tlsa-311", "TLSA", 0, msg("_25._tcp.mx1.example.net", "TLSA", [
        rr(name("", q), "TLSA", bytes([3, 1, 1]) + digest),
        rr(name("", q), "TLSA", bytes([2, 0, 1]) + digest[::-1])]))
    seed(outdir, "tlsa-empty", "TLSA", 2, msg("_25._tcp.mx1.example.net", "TLSA", [
        rr(name("", q), "TLSA", bytes([3, 1, 1]))]))
    # A CNAME whose target is compressed, and a message cut short.
    cut = msg("example.net", "MX", [rr(name("", q), "MX", mx(10, "mx1.example.net"))])
    seed(outdir, "mx-cut", "MX", 0, cut[:-5])
    seed(outdir, "mx-header-only", "MX", 0, cut[:12])


def write(target, fname, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, fname), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def reply_seeds():
    crlf = lambda lines: "".join(l + "\r\n" for l in lines)
    postfix_ehlo = ["250-mx1.example.net", "250-PIPELINING", "250-SIZE 10240000",
                    "250-VRFY", "250-ETRN", "250-STARTTLS", "250-ENHANCEDSTATUSCODES",
                    "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING"]
    write("reply", "postfix-dialogue", "\x01" + crlf(
        ["220 mx1.example.net ESMTP Postfix"] + postfix_ehlo +
        ["250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>",
         "250 2.0.0 Ok: queued as 4Xyz", "221 2.0.0 Bye"]))
    write("reply", "multiline-reject", "\x07" + crlf(
        ["550-5.7.1 Service unavailable; client [192.0.2.1] blocked",
         "550-5.7.1 see https://example.net/why", "550 5.7.1 go away"]))
    write("reply", "tempfail-bare-lf", "\x02421 4.3.2 Service shutting down\n")
    write("reply", "code-only", "\x03250\r\n354\r\n")
    write("reply", "mismatch", "\x04250-first\r\n251 second\r\n")
    write("reply", "long-line", "\x05250 " + "x" * 2100 + "\r\n")
    write("reply", "pipelined", "\x06" + crlf(["250 2.1.0 Ok", "250 2.1.5 Ok",
                                               "550 5.1.1 <x@example.net>: unknown"]))
    write("reply", "cut", "\x08220-greeting\r\n220 almost")
    return postfix_ehlo


def ehlo_seeds(postfix_ehlo):
    write("ehlo", "postfix", "\n".join(l[4:] for l in postfix_ehlo[1:]))
    write("ehlo", "exchange", "SIZE 37748736\nPIPELINING\nDSN\nENHANCEDSTATUSCODES\n"
          "STARTTLS\nX-ANONYMOUSTLS\nAUTH NTLM\nX-EXPS GSSAPI NTLM\n8BITMIME\n"
          "BINARYMIME\nCHUNKING\nSMTPUTF8\nXRDST")
    write("ehlo", "lowercase", "starttls\nsize\npipelining\nsmtputf8")
    write("ehlo", "size-huge", "SIZE 99999999999999999999999\nSTARTTLS")
    # Longer than the 4 KiB of reply text kept for reports: STARTTLS last.
    write("ehlo", "long-starttls-last", "\n".join(
        ["XEXTENSION-%02d %s" % (i, "a" * 200) for i in range(30)] +
        ["SIZE 1000", "STARTTLS"]))


def iobuf_seeds():
    # op, arg pairs: append, getline, consume, reserve, printf, free.
    text = b"250-a\r\n250 b\n\r\n"
    write("iobuf", "lines", bytes([0, len(text)]) + text +
          bytes([4, 10, 4, 10, 4, 10, 4, 0]))
    write("iobuf", "mixed", bytes([2, 70, 30, 3, 5, 1, 8]) + b"xy\r\nz\nab" +
          bytes([4, 1, 4, 0, 5, 0, 0, 3]) + b"\r\r\n" + bytes([4, 0]))
    write("iobuf", "long", bytes([0, 255]) + b"a" * 255 + bytes([4, 63, 4, 64, 3, 200]))


def message_seeds():
    write("message", "plain", "From: a@example.net\r\nSubject: hi\r\n\r\nbody\r\n")
    write("message", "dots", ".\n..\r\n.x\r.\n\n.")
    write("message", "mixed-endings", "a\rb\nc\r\nd\n\re")
    write("message", "smuggle", "x\r\n.\r\nMAIL FROM:<a@b>\n.\n")
    write("message", "eightbit", "Subject: caf\xc3\xa9\n\nno final newline")
    write("message", "nul", "ab\x00cd")
    write("message", "long-lines", "." + "x" * 2500 + "\n" + "y" * 998 + "\r\n." +
          "z" * 998 + "\n" + "w" * 999)


def address_seeds():
    for i, (flag, a) in enumerate([(0x40, "user@example.net"), (0x41, ""),
                                   (0x40, "first.last+tag@sub.example.net"),
                                   (0x40, '"quoted \\" local"@example.net'),
                                   (0x40, "j\xc3\xb6rg@example.net"),
                                   (0x40, "a@[192.0.2.1]"), (0x40, "a@-bad-.example"),
                                   (0x40, "a..b@example.net"), (0x02, "x@\x1b[31m"),
                                   (0x40, "a@b@example.net"), (0x40, "a@" + "l" * 64 + ".net"),
                                   (0x40, "[192.0.2.1]"), (0x40, "[IPv6:2001:db8::1]"),
                                   (0x40, "mx.example.net\r\nRSET")]):
        write("address", "a%02d" % i, bytes([flag]) + a.encode("latin-1"))


def escape_seeds():
    write("escape", "reply", b"\x00\x80250 2.0.0 Ok \\ \"queued\"")
    write("escape", "controls", b"\x00\x40\x1b[31mred\r\n\x7f\xff")
    write("escape", "cut", b"\x00\x08abc\\def\x01ghi")
    write("escape", "utf8", b"\x01\x00caf\xc3\xa9 \xf0\x9f\x93\xa7 \xe2\x82\xac")
    write("escape", "tiny", b"\x00\x03\x01\x02")


def socks5_seeds():
    write("socks5", "method-none", b"\x00\x05\x00")
    write("socks5", "method-password", b"\x01\x05\x02")
    write("socks5", "method-refused", b"\x01\x05\xff")
    write("socks5", "auth-ok", b"\x02\x01\x00")
    write("socks5", "auth-refused", b"\x02\x01\x01")
    write("socks5", "connect-ipv4", b"\x03\x05\x00\x00\x01\xc0\x00\x02\x01\x00\x19220 banner")
    write("socks5", "connect-ipv6", b"\x03\x05\x00\x00\x04" + bytes(16) + b"\x00\x19")
    write("socks5", "connect-domain", b"\x03\x05\x00\x00\x03\x0bexample.net\x00\x19")
    write("socks5", "connect-refused", b"\x03\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00")
    write("socks5", "connect-bad-type", b"\x03\x05\x00\x00\x07\x00")


def anchor_seeds():
    write("anchor", "root-key", open("/usr/share/dns/root.key", "rb").read()
          if os.path.exists("/usr/share/dns/root.key") else
          ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n")
    write("anchor", "ds", ". 3600 IN DS 20326 8 2 "
          "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n")
    write("anchor", "comments-and-a", "; lab anchor\n$TTL 300\nexample. IN A 192.0.2.1\n"
          "example. IN DS 1234 13 2 " + "ab" * 32 + "\n")
    write("anchor", "no-anchor", "example. IN A 192.0.2.1\n")
    write("anchor", "garbage", "\x00\xff. IN DNSKEY 257 3\n")


def zonekeys_seeds():
    """Validation chains in fuzz_zonekeys's record format."""
    import struct

    def wire(name):
        return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".") if l) + b"\0"

    def key(flags, serial):
        return struct.pack("!HBB", flags, 3, 13) + bytes([serial]) * 8

    def tag(rdata):
        ac = sum(b if i & 1 else b << 8 for i, b in enumerate(rdata))
        return (ac + ((ac >> 16) & 0xFFFF)) & 0xFFFF

    def rec(owner, kind, ttl, extra=b""):
        w = wire(owner)
        return bytes([len(w)]) + w + bytes([kind]) + struct.pack("!I", ttl) + extra

    def dnskey(owner, k, ttl=3600):
        return rec(owner, 0, ttl, bytes([len(k)]) + k)

    def rrsig(owner, covered_ds, k, ttl=3600, left=86400):
        return rec(owner, 2, ttl, struct.pack("!BHII", 1 if covered_ds else 0,
                                              tag(k), ttl, left))

    ksk, zsk, csk = key(257, 1), key(256, 2), key(257, 3)
    zone = (dnskey("zk.example", ksk) + dnskey("zk.example", zsk) +
            rrsig("zk.example", False, ksk) + rec("zk.example", 1, 3600) +
            rrsig("zk.example", True, zsk))
    write("zonekeys", "ksk-zsk", zone)
    write("zonekeys", "csk", dnskey("Example", csk) + rrsig("Example", False, csk))
    write("zonekeys", "root", dnskey("", ksk) + rrsig("", False, ksk))
    write("zonekeys", "expired", dnskey("a.example", zsk) +
          rrsig("a.example", False, ksk, left=0xFFFFFF00))
    write("zonekeys", "two-zones", zone + dnskey("example", csk) +
          rrsig("example", False, csk, ttl=60))


def sigcheck_seeds():
    """Replies to mx.fz.example., signed with fuzz_sigcheck's Ed25519 key
    (private half: the bytes 0..31; Ed25519 signatures are deterministic,
    so the seeds are the same each time).  Needs python3-cryptography."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        print("sigcheck seeds skipped: no python3-cryptography")
        return
    priv = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    now = 1800000000
    zone = name("fz.example")
    from cryptography.hazmat.primitives import serialization
    pub = priv.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)
    key = struct.pack("!HBB", 256, 3, 15) + pub
    ac = sum(b if i & 1 else b << 8 for i, b in enumerate(key))
    tag = (ac + ((ac >> 16) & 0xFFFF)) & 0xFFFF
    types = {"MX": 15, "A": 1, "AAAA": 28, "TLSA": 52, "NSEC": 47,
             "RRSIG": 46, "CNAME": 5}

    def rec(owner, rtype, rdata, ttl=300):
        return owner + struct.pack("!HHIH", types[rtype], 1, ttl,
                                   len(rdata)) + rdata

    def rrsig(owner, rtype, rdatas, labels=3):
        head = struct.pack("!HBBIIIH", types[rtype], 15, labels, 300,
                           now + 86400, now - 3600, tag) + zone
        data = head + b"".join(owner + struct.pack("!HHIH", types[rtype], 1,
                               300, len(r)) + r for r in sorted(rdatas))
        return rec(owner, "RRSIG", head + priv.sign(data))

    def reply(qtype, answer=(), authority=(), rcode=0):
        head = struct.pack("!HHHHHH", 0x1234, 0x8180 | rcode, 1,
                           len(answer), len(authority), 0)
        return head + name("mx.fz.example") + struct.pack(
            "!HH", types[qtype], 1) + b"".join(answer) + b"".join(authority)

    mx = name("mx.fz.example")
    ask = {"MX": 0, "A": 1, "AAAA": 2, "TLSA": 3}
    a = [bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])]
    write("sigcheck", "a-two", bytes([ask["A"]]) + reply("A", [
        rec(mx, "A", a[0]), rec(mx, "A", a[1]), rrsig(mx, "A", a)]))
    exch = struct.pack("!H", 10) + name("mx2.fz.example")
    # The exchange compressed against the question (offset 12).
    exch_c = struct.pack("!H", 10) + b"\x03mx2" + struct.pack("!H", 0xC000 | 15)
    write("sigcheck", "mx-compressed", bytes([ask["MX"]]) + reply("MX", [
        rec(struct.pack("!H", 0xC00C), "MX", exch_c),
        rrsig(mx, "MX", [exch])]))
    tlsa = bytes([3, 1, 1]) + bytes(range(32))
    write("sigcheck", "tlsa", bytes([ask["TLSA"]]) + reply("TLSA", [
        rec(mx, "TLSA", tlsa), rrsig(mx, "TLSA", [tlsa])]))
    nsec = name("zz.fz.example") + bytes([0, 6, 0x40, 0, 0, 0, 0, 3])
    write("sigcheck", "nodata", bytes([ask["AAAA"]]) + reply("AAAA", [], [
        rec(mx, "NSEC", nsec), rrsig(mx, "NSEC", [nsec])]))
    # The same NODATA by NSEC3 (SHA-1, 2 iterations, salt ab).
    import base64
    import hashlib
    h = name("mx.fz.example")
    for _ in range(3):
        h = hashlib.sha1(h + b"\xab").digest()
    owner3 = name(base64.b32hexencode(h).decode().lower() + ".fz.example")
    nsec3 = (struct.pack("!BBHB", 1, 0, 2, 1) + b"\xab" + bytes([20]) +
             bytes(20) + bytes([0, 1, 0x40]))
    types["NSEC3"] = 50
    write("sigcheck", "nodata-nsec3", bytes([ask["AAAA"]]) + reply("AAAA", [], [
        rec(owner3, "NSEC3", nsec3), rrsig(owner3, "NSEC3", [nsec3],
                                           labels=3)]))
    write("sigcheck", "wildcard-labels", bytes([ask["A"]]) + reply("A", [
        rec(mx, "A", a[0]), rrsig(mx, "A", [a[0]], labels=2)]))
    write("sigcheck", "cname", bytes([ask["A"]]) + reply("A", [
        rec(mx, "CNAME", name("mx2.fz.example")), rec(mx, "A", a[0]),
        rrsig(mx, "A", [a[0]])]))


def der(pem):
    return subprocess.run(["openssl", "x509", "-outform", "DER", "-in",
                           os.path.join(DANE_DIR, pem + ".pem")],
                          check=True, capture_output=True).stdout


def spki(pem):
    key = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in",
                          os.path.join(DANE_DIR, pem + ".pem")],
                         check=True, capture_output=True).stdout
    return subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                          input=key, check=True, capture_output=True).stdout


def dane_seeds():
    """Header (records, names), records, then the chain."""
    blob = lambda b: struct.pack("!H", len(b)) + b
    tlsa = lambda u, s, m, d: bytes([u, s, m]) + blob(d)
    sha256 = lambda b: hashlib.sha256(b).digest()
    sha512 = lambda b: hashlib.sha512(b).digest()
    chain = lambda *names: bytes([len(names)]) + b"".join(blob(der(n)) for n in names)

    def case(fname, names, recs, ch):
        write("dane", fname, bytes([len(recs) | names << 3]) + b"".join(recs) + ch)

    full = chain("leaf", "int", "root")
    case("ee-spki-sha256", 0, [tlsa(3, 1, 1, sha256(spki("leaf")))], full)
    case("ee-cert-full", 3, [tlsa(3, 0, 0, der("leaf"))], chain("leaf"))
    case("ta-root-sha256", 0, [tlsa(2, 0, 1, sha256(der("root")))], full)
    case("ta-int-sha512", 2, [tlsa(2, 0, 2, sha512(der("int")))], full)
    case("ta-bare-key", 0, [tlsa(2, 1, 0, spki("root"))], chain("leaf", "int"))
    case("unusable-then-wrong", 0, [tlsa(1, 0, 1, sha256(der("leaf"))),
                                    tlsa(3, 1, 1, bytes(32)), tlsa(4, 0, 0, b"x")], full)
    case("expired", 0, [tlsa(2, 0, 1, sha256(der("root")))], chain("expired", "int", "root"))
    case("self", 1, [tlsa(2, 1, 0, spki("self")), tlsa(3, 0, 1, sha256(der("self")))],
         chain("self"))
    case("non-ca-issuer", 0, [tlsa(2, 0, 1, sha256(der("leaf")))], chain("sub", "leaf", "int"))


def main():
    dns_seeds()
    ehlo_seeds(reply_seeds())
    iobuf_seeds()
    message_seeds()
    address_seeds()
    escape_seeds()
    socks5_seeds()
    anchor_seeds()
    zonekeys_seeds()
    sigcheck_seeds()
    dane_seeds()


if __name__ == "__main__":
    main()
