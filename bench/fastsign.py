"""In-process DNSSEC signing of the load lab's leaf zones.

ldns-signzone costs a process per zone (about 20 ms of CPU, half of it
starting up), so 2,000 zones take a minute of both cores, and several on a
loaded machine.  The leaf zones of the load lab are tiny and all alike
(SOA, NS, MX, an A record and a TLSA record), so they are signed here
instead, with Python's `cryptography` (ECDSA P-256, RFC 6605) and the same
key files ldns made: the NSEC chain (RFC 4034 section 4), the RRSIGs over
canonical RRsets (RFC 4034 sections 3.1.8.1 and 6), written as a zone file
for nsd.

What this cannot sign (another record type, no `cryptography` module)
falls back to ldns-signzone.  The lab checks the result twice: the first
zone signed here goes through ldns-verify-zone, and unbound must validate
answers from the zones before any run starts.
"""

import base64
import ipaddress
import struct
import time

try:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, utils
except ImportError:       # the lab falls back to ldns-signzone
    ec = None

TYPES = {"A": 1, "NS": 2, "SOA": 6, "MX": 15, "AAAA": 28, "RRSIG": 46,
         "NSEC": 47, "DNSKEY": 48, "TLSA": 52}
ALGORITHM = 13          # ECDSAP256SHA256
CLASS_IN = 1


class Unsupported(Exception):
    """A zone this signer does not handle: use ldns-signzone."""


def available():
    """Tells whether in-process signing is possible here."""
    return ec is not None


def name_wire(name):
    """An absolute name in canonical wire form (lower case)."""
    labels = [l for l in name.rstrip(".").split(".") if l]
    return b"".join(bytes([len(l)]) + l.lower().encode("ascii")
                    for l in labels) + b"\0"


def label_count(name):
    """Labels of an owner name, the root not counted (RRSIG Labels)."""
    return len([l for l in name.rstrip(".").split(".") if l])


def canonical_order(name):
    """Sort key of RFC 4034 6.1: labels compared from the right."""
    return [l.lower().encode("ascii")
            for l in reversed(name.rstrip(".").split(".")) if l]


def absolute(name, origin):
    """A zone-file name made absolute ("@" is the origin)."""
    if name == "@":
        return origin
    return name if name.endswith(".") else name + "." + origin


def key_tag(rdata):
    """RFC 4034 appendix B key tag of a DNSKEY RDATA."""
    acc = 0
    for i, b in enumerate(rdata):
        acc += b if i & 1 else b << 8
    acc += (acc >> 16) & 0xFFFF
    return acc & 0xFFFF


class Key:
    """One ldns key pair: its DNSKEY RDATA and its private key."""

    def __init__(self, base, rdata_text):
        """Reads the ldns key files at `base` (.private) for this DNSKEY."""
        flags, proto, alg, key = rdata_text.split(None, 3)
        if int(alg) != ALGORITHM:
            raise Unsupported("key algorithm %s" % alg)
        self.rdata_text = rdata_text
        self.rdata = (struct.pack("!HBB", int(flags), int(proto), int(alg))
                      + base64.b64decode("".join(key.split())))
        self.tag = key_tag(self.rdata)
        secret = None
        with open(base + ".private", encoding="ascii") as f:
            for line in f:
                if line.startswith("PrivateKey:"):
                    secret = base64.b64decode(line.split(":", 1)[1].strip())
        if secret is None:
            raise Unsupported("no PrivateKey in %s.private" % base)
        self.private = ec.derive_private_key(int.from_bytes(secret, "big"),
                                             ec.SECP256R1())

    def sign(self, data):
        """The RFC 6605 signature: r and s, 32 bytes each."""
        der = self.private.sign(data, ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def parse_record(line, origin, default_ttl):
    """One zone-file line of the lab ("owner [TTL] [IN] TYPE DATA") as
    (owner, type, TTL, rdata wire, presentation), names made absolute."""
    fields = line.split()
    owner = absolute(fields[0], origin)
    rest = fields[1:]
    ttl = default_ttl
    while rest and (rest[0].isdigit() or rest[0].upper() == "IN"):
        if rest[0].isdigit():
            ttl = int(rest[0])
        rest = rest[1:]
    rtype, data = rest[0].upper(), rest[1:]
    if rtype == "A":
        wire = ipaddress.IPv4Address(data[0]).packed
        text = data[0]
    elif rtype == "AAAA":
        wire = ipaddress.IPv6Address(data[0]).packed
        text = data[0]
    elif rtype == "NS":
        target = absolute(data[0], origin)
        wire, text = name_wire(target), target
    elif rtype == "MX":
        target = absolute(data[1], origin)
        wire = struct.pack("!H", int(data[0])) + name_wire(target)
        text = "%d %s" % (int(data[0]), target)
    elif rtype == "TLSA":
        wire = bytes([int(data[0]), int(data[1]), int(data[2])]) + \
            bytes.fromhex("".join(data[3:]))
        text = "%d %d %d %s" % (int(data[0]), int(data[1]), int(data[2]),
                                "".join(data[3:]).lower())
    elif rtype == "SOA":
        mname, rname = absolute(data[0], origin), absolute(data[1], origin)
        numbers = [int(x) for x in data[2:7]]
        wire = name_wire(mname) + name_wire(rname) + \
            struct.pack("!IIIII", *numbers)
        text = "%s %s %s" % (mname, rname, " ".join(str(n) for n in numbers))
    else:
        raise Unsupported("record type %s" % rtype)
    return owner, rtype, ttl, wire, text


def type_bitmap(types):
    """NSEC type bit maps (RFC 4034 4.1.2), all types below 256."""
    numbers = sorted(TYPES[t] for t in types)
    if numbers[-1] > 255:
        raise Unsupported("type above 255 in an NSEC bitmap")
    bitmap = bytearray(numbers[-1] // 8 + 1)
    for n in numbers:
        bitmap[n // 8] |= 0x80 >> (n % 8)
    return bytes([0, len(bitmap)]) + bytes(bitmap)


def sign_zone(text, origin, ksk, zsk, inception, expiration, ttl):
    """Signs one zone given as the lab's unsigned zone text; returns the
    signed zone text.  DNSKEY is signed by the KSK, the rest by the ZSK;
    `ttl` is the default TTL until a $TTL line, NSEC records get the SOA
    minimum (RFC 4034 4)."""
    rrsets, ttls = {}, {}
    for line in text.splitlines():
        if line.startswith("$TTL"):
            ttl = int(line.split()[1])
        if line.startswith("$ORIGIN") and line.split()[1] != origin:
            raise Unsupported("$ORIGIN %s in zone %s" % (line.split()[1],
                                                         origin))
        if not line.strip() or line.startswith(("$", ";")):
            continue
        owner, rtype, rr_ttl, wire, shown = parse_record(line, origin, ttl)
        if owner != origin and not owner.endswith("." + origin):
            raise Unsupported("out-of-zone name %s" % owner)
        rrsets.setdefault((owner, rtype), []).append((wire, shown))
        # An RRset has one TTL (RFC 2181 5.2): the smallest given.
        ttls[(owner, rtype)] = min(rr_ttl, ttls.get((owner, rtype), rr_ttl))
    soa = rrsets.get((origin, "SOA"))
    if not soa:
        raise Unsupported("no SOA")
    nsec_ttl = struct.unpack("!I", soa[0][0][-4:])[0]
    if any(t == "NS" and o != origin for o, t in rrsets):
        raise Unsupported("a delegation")
    for key in (ksk, zsk):
        rrsets.setdefault((origin, "DNSKEY"), []).append(
            (key.rdata, key.rdata_text))
    names = sorted({o for o, _t in rrsets}, key=canonical_order)
    for i, name in enumerate(names):
        nxt = names[(i + 1) % len(names)]
        types = {t for o, t in rrsets if o == name} | {"RRSIG", "NSEC"}
        wire = name_wire(nxt) + type_bitmap(types)
        order = sorted(types, key=lambda t: TYPES[t])
        rrsets[(name, "NSEC")] = [(wire, "%s %s" % (nxt, " ".join(order)))]
        ttls[(name, "NSEC")] = nsec_ttl
    out = []
    # nsd wants the SOA first; the rest in canonical order.
    for (owner, rtype) in sorted(rrsets, key=lambda k: (
            canonical_order(k[0]), k[1] != "SOA", TYPES[k[1]])):
        records = sorted(rrsets[(owner, rtype)])
        rr_ttl = ttls.get((owner, rtype), ttl)
        for _wire, shown in records:
            out.append("%s\t%d\tIN\t%s\t%s" % (owner, rr_ttl, rtype, shown))
        key = ksk if rtype == "DNSKEY" else zsk
        header = struct.pack("!HBBIIIH", TYPES[rtype], ALGORITHM,
                             label_count(owner), rr_ttl, expiration,
                             inception, key.tag) + name_wire(origin)
        owner_part = name_wire(owner) + struct.pack("!HHI", TYPES[rtype],
                                                    CLASS_IN, rr_ttl)
        data = header + b"".join(owner_part + struct.pack("!H", len(w)) + w
                                 for w, _s in records)
        signature = base64.b64encode(key.sign(data)).decode("ascii")
        out.append("%s\t%d\tIN\tRRSIG\t%s %d %d %d %s %s %d %s %s" % (
            owner, rr_ttl, rtype, ALGORITHM, label_count(owner), rr_ttl,
            stamp(expiration), stamp(inception), key.tag, origin, signature))
    return "\n".join(out) + "\n"


def stamp(t):
    """An RRSIG time in YYYYMMDDHHmmSS (UTC)."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(t))
