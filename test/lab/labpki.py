"""The lab's certificates and the TLSA records that name them.

A case that tests DANE needs certificates it knows everything about: a
private CA (root -> intermediate -> leaf, ECDSA P-256), self-signed leaves,
and leaves with deliberately wrong names.  Everything is made with
openssl(1) at lab time in the case's temporary directory; nothing is
committed.  TLSA association data is computed here, independently of the
client under test: openssl extracts the SubjectPublicKeyInfo, hashlib
hashes.

    pki = Pki(workdir)
    root = pki.root("Lab Root CA")
    inter = pki.issue(root, "Lab Intermediate", ca=True)
    leaf = pki.issue(inter, "mx.a.example", sans=["mx.a.example"])
    cred = Credential(leaf, [inter])        # what a server presents
    tlsa(leaf, 3, 1, 1)                     # "3 1 1 <sha-256 of the SPKI>"
"""

import hashlib
import os
import random
import re
import ssl
import subprocess

# Certificates are valid from now for a few days (the lab runs on one clock).
VALID_DAYS = 3


class Cert:
    """One certificate with its key: paths, subject name and DER bytes."""

    def __init__(self, name, cert_path, key_path):
        self.name = name
        self.cert_path = cert_path
        self.key_path = key_path
        with open(cert_path, encoding="ascii") as f:
            self.pem = f.read()
        self.der = ssl.PEM_cert_to_DER_cert(self.pem)
        self.spki = public_key_der(cert_path)


class Credential:
    """What a TLS server presents: a leaf, its key and the chain after it.

    `chain_file` holds the key, the leaf and then each issuer in order,
    the format of Postfix's smtpd_tls_chain_files; `cert_file` holds the
    certificates only (leaf first), which is what Python's
    load_cert_chain() takes together with `key_path`.
    """

    def __init__(self, leaf, chain=()):
        self.leaf = leaf
        self.chain = list(chain)
        base = os.path.splitext(leaf.cert_path)[0]
        # One credential per leaf and chain length (leaf+intermediate and
        # leaf+intermediate+root can both exist).
        self.cert_file = "%s-chain%d.pem" % (base, len(self.chain))
        self.chain_file = "%s-chain%d-key.pem" % (base, len(self.chain))
        self.key_path = leaf.key_path
        certs = "".join(c.pem for c in [leaf] + self.chain)
        with open(leaf.key_path, encoding="ascii") as f:
            key = f.read()
        write(self.cert_file, certs)
        write(self.chain_file, key + certs)
        # Read by smtpd after it drops privileges.
        os.chmod(self.chain_file, 0o644)
        os.chmod(self.key_path, 0o644)

    def presented(self):
        """The certificates sent in the handshake, leaf first."""
        return [self.leaf] + self.chain


class Pki:
    """Makes certificates in one directory; names must be unique in it."""

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)

    def paths(self, name):
        """Where a certificate named `name` and its key live."""
        base = os.path.join(self.directory, re.sub(r"[^A-Za-z0-9.-]", "_",
                                                   name))
        if os.path.exists(base + ".pem"):
            raise ValueError("certificate %s made twice" % name)
        return base + ".pem", base + ".key", base + ".cnf"

    def root(self, name, constraints=()):
        """A self-signed CA certificate (the top of a private chain);
        `constraints` as for issue()."""
        cert, key, cnf = self.paths(name)
        write(cnf, openssl_config(name, ca=True, sans=(), issued=False,
                                  constraints=constraints))
        openssl(["req", "-x509", "-new", "-config", cnf, "-extensions", "ext",
                 "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", key, "-out", cert,
                 "-days", str(VALID_DAYS), "-set_serial", serial()])
        return Cert(name, cert, key)

    def self_signed(self, name, sans=None):
        """A self-signed server certificate (no CA): the usual SMTP server."""
        cert, key, cnf = self.paths(name)
        write(cnf, openssl_config(name, ca=False,
                                  sans=[name] if sans is None else sans,
                                  issued=False))
        openssl(["req", "-x509", "-new", "-config", cnf, "-extensions", "ext",
                 "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", key, "-out", cert,
                 "-days", str(VALID_DAYS), "-set_serial", serial()])
        return Cert(name, cert, key)

    def issue(self, issuer, name, ca=False, sans=None, file_tag=None,
              constraints=()):
        """A certificate for `name` signed by `issuer` (a Cert).

        `sans` lists the subjectAltName dNSNames; None means just `name`,
        an empty list means no subjectAltName at all (the leaf is named
        only by its CN).  `file_tag` tells certificates of the same name
        apart on disk.  For a CA, `constraints` adds "pathlen:N" to its
        basicConstraints or, for "permitted;DNS:..." entries, name
        constraints.
        """
        if sans is None:
            sans = [] if ca else [name]
        cert, key, cnf = self.paths(file_tag or name)
        csr = cert.replace(".pem", ".csr")
        write(cnf, openssl_config(name, ca=ca, sans=sans, issued=True,
                                  constraints=constraints))
        openssl(["req", "-new", "-config", cnf, "-newkey", "ec",
                 "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", key, "-out", csr])
        openssl(["x509", "-req", "-in", csr, "-CA", issuer.cert_path,
                 "-CAkey", issuer.key_path, "-set_serial", serial(),
                 "-days", str(VALID_DAYS), "-extfile", cnf,
                 "-extensions", "ext", "-out", cert])
        return Cert(name, cert, key)


def openssl_config(name, ca, sans, issued, constraints=()):
    """An openssl config with the subject and the one extension section.

    Written in full (no system openssl.cnf), so no default extension
    sneaks in and the certificates are exactly what the case asked for.
    """
    lines = ["[req]", "distinguished_name = dn", "prompt = no",
             "[dn]", "CN = %s" % name, "[ext]"]
    if ca:
        pathlen = [c for c in constraints if c.startswith("pathlen:")]
        names = [c for c in constraints if not c.startswith("pathlen:")]
        lines += ["basicConstraints = critical,CA:TRUE" +
                  "".join("," + c for c in pathlen),
                  "keyUsage = critical,keyCertSign,cRLSign"]
        if names:
            lines.append("nameConstraints = critical," + ",".join(names))
    else:
        lines += ["basicConstraints = critical,CA:FALSE",
                  "keyUsage = critical,digitalSignature",
                  "extendedKeyUsage = serverAuth"]
        if sans:
            lines.append("subjectAltName = " +
                         ",".join("DNS:" + s for s in sans))
    lines.append("subjectKeyIdentifier = hash")
    if issued:
        lines.append("authorityKeyIdentifier = keyid:always")
    return "\n".join(lines) + "\n"


def serial():
    """A random positive serial number, as openssl wants it."""
    return "0x%016x" % random.getrandbits(63)


def public_key_der(cert_path):
    """The certificate's SubjectPublicKeyInfo, DER (what selector 1 means)."""
    pem = openssl(["x509", "-in", cert_path, "-noout", "-pubkey"])
    p = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                       input=pem.encode("ascii"), capture_output=True)
    if p.returncode != 0:
        raise RuntimeError("openssl pkey failed: %s"
                           % p.stderr.decode(errors="replace").strip())
    return p.stdout


def association_data(cert, selector, mtype):
    """The bytes a TLSA record with this selector and matching type holds
    for `cert` (RFC 6698 2.1.2, 2.1.3)."""
    selected = {0: cert.der, 1: cert.spki}[selector]
    if mtype == 0:
        return selected
    if mtype == 1:
        return hashlib.sha256(selected).digest()
    if mtype == 2:
        return hashlib.sha512(selected).digest()
    raise ValueError("no matching type %d" % mtype)


def tlsa(cert, usage, selector, mtype):
    """The TLSA record data naming `cert`: "USAGE SELECTOR MTYPE HEX"."""
    return "%d %d %d %s" % (usage, selector, mtype,
                            association_data(cert, selector, mtype).hex())


def damaged(record):
    """The same record with one byte of its data changed: as long as the
    right one (so still usable), but matching nothing."""
    usage, selector, mtype, data = record.split()
    raw = bytearray.fromhex(data)
    raw[len(raw) // 2] ^= 0x5a
    return "%s %s %s %s" % (usage, selector, mtype, raw.hex())


def short(record):
    """A TLSA record shortened for messages: "3 1 1 ab12cd34...".
    """
    fields = record.split()
    data = fields[3] if len(fields) > 3 else ""
    if len(data) > 24:
        data = data[:12] + "..." + data[-8:]
    return " ".join(fields[:3] + [data])


def openssl(args):
    """Runs openssl; its stderr becomes the error when it fails."""
    p = subprocess.run(["openssl"] + args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed (%d): %s"
                           % (args[0], p.returncode, p.stderr.strip()))
    return p.stdout


def write(path, text):
    """Writes a small text file."""
    with open(path, "w", encoding="ascii") as f:
        f.write(text)
