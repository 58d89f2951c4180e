#!/usr/bin/env python3
"""Independent check of the test vectors in docs/protocol.md.

Written from the document only (not from the C# code), as a reference for implementers in other
languages. It parses every ```text block that starts with `vector = NAME`, recomputes each
expected output from the block's inputs and prints one PASS/FAIL line per vector; the exit status
is non-zero if anything disagrees.

Needs python3 (hashlib's BLAKE2b) and the `cryptography` package (Ed25519, X25519,
ChaCha20-Poly1305, Poly1305, Argon2id). HChaCha20 (for XChaCha20-Poly1305) and
HSalsa20/XSalsa20 (for libsodium's sealed boxes) are implemented here in pure Python.

Usage: python3 docs/protocol/verify_vectors.py [path/to/protocol.md]
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import sys
import uuid
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.poly1305 import Poly1305

# ---------------------------------------------------------------------------------------------
# Parsing the vector blocks (§15)


class Block:
    def __init__(self, name: str, values: dict[str, str]):
        self.name = name
        self.values = values

    def raw(self, field: str) -> str:
        if field not in self.values:
            raise KeyError(f"vector {self.name} has no line '{field}'")
        return self.values[field]

    def hex(self, field: str) -> bytes:
        return bytes.fromhex(self.raw(field))

    def id(self, field: str) -> bytes:
        return uuid_bytes(self.raw(field))

    def int(self, field: str) -> int:
        return int(self.raw(field), 10)

    def text(self, field: str) -> str:
        value = self.raw(field)
        if len(value) < 2 or value[0] != '"' or value[-1] != '"':
            raise ValueError(f"vector {self.name}: {field} is not quoted text")
        return value[1:-1]

    def list(self, field: str) -> list[str]:
        return [item.strip() for item in self.raw(field).split(",") if item.strip()]


def parse(path: Path) -> dict[str, Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: dict[str, Block] = {}
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```text" and i + 1 < len(lines) and lines[i + 1].startswith("vector = "):
            name = lines[i + 1][len("vector = "):].strip()
            values: dict[str, str] = {}
            i += 2
            while i < len(lines) and lines[i].strip() != "```":
                line = lines[i].strip()
                i += 1
                if not line or line.startswith("#"):
                    continue
                field, _, value = line.partition(" =")
                if field in values:
                    raise ValueError(f"vector {name}: '{field}' twice")
                values[field] = value.strip()
            if name in blocks:
                raise ValueError(f"vector {name} twice")
            blocks[name] = Block(name, values)
        i += 1
    return blocks


def uuid_bytes(text: str) -> bytes:
    return uuid.UUID(text).bytes  # RFC 4122 order: the hex digits as written


# ---------------------------------------------------------------------------------------------
# Canonical bytes (§2)


class Canonical:
    def __init__(self, context: str):
        self.out = bytearray()
        self.text(context)

    def field(self, value: bytes) -> "Canonical":
        self.out += struct.pack(">I", len(value)) + value
        return self

    def int64(self, value: int) -> "Canonical":
        return self.field(struct.pack(">q", value))

    def id(self, value: bytes | None) -> "Canonical":
        return self.field(b"" if value is None else value)

    def time(self, unix_us: int) -> "Canonical":
        return self.int64(unix_us)

    def text(self, value: str | None) -> "Canonical":
        return self.field(b"" if value is None else value.encode("utf-8"))

    def bytes(self) -> bytes:
        return bytes(self.out)


def b2b(data: bytes, size: int = 32) -> bytes:
    return hashlib.blake2b(data, digest_size=size).digest()


# ---------------------------------------------------------------------------------------------
# Primitives the `cryptography` package lacks: HChaCha20, HSalsa20, XSalsa20 (pure Python)

MASK = 0xFFFFFFFF


def rotl(v: int, n: int) -> int:
    return ((v << n) & MASK) | (v >> (32 - n))


def hchacha20(key: bytes, nonce16: bytes) -> bytes:
    s = list(struct.unpack("<4I", b"expand 32-byte k")) + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))

    def qr(a: int, b: int, c: int, d: int) -> None:
        s[a] = (s[a] + s[b]) & MASK; s[d] = rotl(s[d] ^ s[a], 16)
        s[c] = (s[c] + s[d]) & MASK; s[b] = rotl(s[b] ^ s[c], 12)
        s[a] = (s[a] + s[b]) & MASK; s[d] = rotl(s[d] ^ s[a], 8)
        s[c] = (s[c] + s[d]) & MASK; s[b] = rotl(s[b] ^ s[c], 7)

    for _ in range(10):
        qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
        qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xchacha20poly1305_encrypt(key: bytes, nonce24: bytes, plaintext: bytes, aad: bytes) -> bytes:
    subkey = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(subkey).encrypt(b"\x00" * 4 + nonce24[16:], plaintext, aad)


def xchacha20poly1305_decrypt(key: bytes, nonce24: bytes, ciphertext: bytes, aad: bytes) -> bytes | None:
    subkey = hchacha20(key, nonce24[:16])
    try:
        return ChaCha20Poly1305(subkey).decrypt(b"\x00" * 4 + nonce24[16:], ciphertext, aad)
    except InvalidTag:
        return None


SIGMA = struct.unpack("<4I", b"expand 32-byte k")


def salsa20_rounds(x: list[int]) -> list[int]:
    x = list(x)

    def qr(a: int, b: int, c: int, d: int) -> None:
        x[b] ^= rotl((x[a] + x[d]) & MASK, 7)
        x[c] ^= rotl((x[b] + x[a]) & MASK, 9)
        x[d] ^= rotl((x[c] + x[b]) & MASK, 13)
        x[a] ^= rotl((x[d] + x[c]) & MASK, 18)

    for _ in range(10):
        qr(0, 4, 8, 12); qr(5, 9, 13, 1); qr(10, 14, 2, 6); qr(15, 3, 7, 11)
        qr(0, 1, 2, 3); qr(5, 6, 7, 4); qr(10, 11, 8, 9); qr(15, 12, 13, 14)
    return x


def salsa_state(key: bytes, sixteen: bytes) -> list[int]:
    k = struct.unpack("<8I", key)
    n = struct.unpack("<4I", sixteen)
    return [SIGMA[0], *k[:4], SIGMA[1], *n, SIGMA[2], *k[4:], SIGMA[3]]


def hsalsa20(key: bytes, nonce16: bytes) -> bytes:
    x = salsa20_rounds(salsa_state(key, nonce16))
    return struct.pack("<8I", x[0], x[5], x[10], x[15], x[6], x[7], x[8], x[9])


def xsalsa20_stream(key: bytes, nonce24: bytes, length: int) -> bytes:
    subkey = hsalsa20(key, nonce24[:16])
    out = bytearray()
    counter = 0
    while len(out) < length:
        state = salsa_state(subkey, nonce24[16:] + struct.pack("<Q", counter))
        mixed = salsa20_rounds(state)
        out += struct.pack("<16I", *((a + b) & MASK for a, b in zip(mixed, state)))
        counter += 1
    return bytes(out[:length])


def sealed_box_open(sealed: bytes, recipient_sk: bytes) -> bytes | None:
    """libsodium crypto_box_seal_open (§1)."""
    if len(sealed) < 48:
        return None
    recipient_pk = X25519PrivateKey.from_private_bytes(recipient_sk).public_key().public_bytes_raw()
    epk, tag, ciphertext = sealed[:32], sealed[32:48], sealed[48:]
    nonce = b2b(epk + recipient_pk, 24)
    shared = X25519PrivateKey.from_private_bytes(recipient_sk).exchange(X25519PublicKey.from_public_bytes(epk))
    k = hsalsa20(shared, b"\x00" * 16)
    stream = xsalsa20_stream(k, nonce, 32 + len(ciphertext))
    if not hmac.compare_digest(Poly1305.generate_tag(stream[:32], ciphertext), tag):
        return None
    return bytes(c ^ s for c, s in zip(ciphertext, stream[32:]))


# ---------------------------------------------------------------------------------------------
# Parties (§15.1)


class Device:
    def __init__(self, devices: Block, party: str):
        self.party = party
        self.device_id = devices.id(f"{party}.device_id")
        self.user_id = devices.id(f"{party}.user_id")
        self.authority_id = devices.id(f"{party}.authority_id")
        self.signing = Ed25519PrivateKey.from_private_bytes(devices.hex(f"{party}.signing_seed"))
        self.signing_pk = self.signing.public_key().public_bytes_raw()
        self.box_sk = devices.hex(f"{party}.box_private_key")
        self.box_pk = X25519PrivateKey.from_private_bytes(self.box_sk).public_key().public_bytes_raw()


class Vectors:
    def __init__(self, blocks: dict[str, Block]):
        self.blocks = blocks
        devices = blocks["devices"]
        self.root = Ed25519PrivateKey.from_private_bytes(devices.hex("root.signing_seed"))
        self.root_pk = self.root.public_key().public_bytes_raw()
        self.devices = {p: Device(devices, p) for p in ("netadmin", "authadmin", "alice", "bob")}

    def issuer(self, name: str) -> tuple[Ed25519PrivateKey, bytes | None, bytes]:
        """(signing key, issuer device id or None for a root, issuer public key)."""
        if name == "root":
            return self.root, None, self.root_pk
        device = self.devices[name]
        return device.signing, device.device_id, device.signing_pk

    # §15.1
    def v_devices(self, b: Block) -> dict[str, str]:
        out = {"root.signing_public_key": self.root_pk.hex()}
        for party, d in self.devices.items():
            out[f"{party}.signing_public_key"] = d.signing_pk.hex()
            out[f"{party}.box_public_key"] = d.box_pk.hex()
        return out

    # §4
    def v_box_key(self, b: Block) -> dict[str, str]:
        d = self.devices[b.raw("device")]
        data = Canonical("globe/v1/box-key").id(d.device_id).field(d.signing_pk).field(d.box_pk).bytes()
        return signed(data, d.signing)

    # §5.1
    def certificate(self, name: str) -> dict:
        b = self.blocks[name]
        subject = self.devices[b.raw("subject")]
        key, issuer_id, issuer_pk = self.issuer(b.raw("issuer"))
        cert = {
            "certificate_id": b.id("certificate_id"), "device_id": subject.device_id, "user_id": subject.user_id,
            "authority_id": subject.authority_id, "role": b.text("role"), "signing_pk": subject.signing_pk,
            "box_pk": subject.box_pk, "not_before": b.int("not_before_us"), "not_after": b.int("not_after_us"),
            "issuer_device_id": issuer_id, "issuer_pk": issuer_pk,
        }
        cert["signing_input"] = (
            Canonical("globe/v1/certificate").id(cert["certificate_id"]).id(cert["device_id"]).id(cert["user_id"])
            .id(cert["authority_id"]).text(cert["role"]).field(cert["signing_pk"]).field(cert["box_pk"])
            .time(cert["not_before"]).time(cert["not_after"]).id(issuer_id).field(issuer_pk).bytes())
        cert["signature"] = key.sign(cert["signing_input"])
        return cert

    def v_certificate(self, b: Block) -> dict[str, str]:
        cert = self.certificate(b.name)
        return {"signing_input": cert["signing_input"].hex(), "signature": cert["signature"].hex()}

    # §5.3
    def revocation(self, name: str) -> dict:
        b = self.blocks[name]
        cert = self.certificate(b.raw("certificate"))
        key, issuer_id, issuer_pk = self.issuer(b.raw("issuer"))
        rev = {"certificate_id": cert["certificate_id"], "device_id": cert["device_id"], "revoked_at": b.int("revoked_at_us"),
               "issuer_device_id": issuer_id, "issuer_pk": issuer_pk}
        rev["signing_input"] = (
            Canonical("globe/v1/revocation").id(b.id("revocation_id")).id(cert["certificate_id"]).id(cert["device_id"])
            .time(rev["revoked_at"]).text(b.text("reason")).id(issuer_id).field(issuer_pk).bytes())
        rev["signature"] = key.sign(rev["signing_input"])
        return rev

    def v_revocation(self, b: Block) -> dict[str, str]:
        rev = self.revocation(b.name)
        return {"signing_input": rev["signing_input"].hex(), "signature": rev["signature"].hex()}

    # §5.2
    def v_chain(self, b: Block) -> dict[str, str]:
        chain = [self.certificate(c) for c in b.list("certificates")]
        revocations = []
        for r in b.list("revocations"):
            rev = self.revocation(r)
            if not verify(rev["issuer_pk"], rev["signing_input"], rev["signature"]):
                return {"result": "SignatureInvalidException"}
            revocations.append(rev)
        return {"result": verify_chain(chain, [self.root_pk], b.int("at_us"), revocations)}

    # §7
    def v_epoch_key(self, b: Block) -> dict[str, str]:
        channel, epoch, key = b.id("channel_id"), b.int("epoch"), b.hex("key")
        creator = self.devices[b.raw("creator")]
        commitment = b2b(Canonical("globe/v1/epoch-key-commitment").id(channel).int64(epoch).field(key).bytes())
        recipients = []
        n = 0
        while f"recipient.{n}" in b.values:
            device = self.devices[b.raw(f"recipient.{n}")]
            sealed = b.hex(f"recipient.{n}.sealed_key")
            check(len(sealed) == 32 + 48, f"recipient.{n}: a sealed 32-byte key is 80 bytes")
            check(sealed_box_open(sealed, device.box_sk) == key, f"recipient.{n}: sealed key opens to `key`")
            recipients.append((device.device_id, sealed))
            n += 1
        check(recipients == sorted(recipients, key=lambda r: r[0]), "recipients in RFC 4122 byte order")
        w = (Canonical("globe/v1/epoch-key").id(channel).int64(epoch).time(b.int("created_at_us")).id(creator.user_id)
             .id(creator.device_id).field(commitment).int64(len(recipients)))
        for device_id, sealed in recipients:
            w.id(device_id).field(sealed)
        return {"commitment": commitment.hex(), **signed(w.bytes(), creator.signing)}

    # §8
    def message(self, name: str) -> dict[str, bytes]:
        b = self.blocks[name]
        sender = self.devices[b.raw("sender")]
        documents = b.list("document_ids")
        w = (Canonical("globe/v1/message-header").int64(1).id(b.id("channel_id")).id(b.id("message_id")).id(sender.user_id)
             .id(sender.device_id).int64(b.int("epoch")).time(b.int("sent_at_us")).text(b.text("content_type"))
             .text(b.text("handling_code")).text(b.text("evaluation_grade")).int64(len(documents)))
        for document in documents:
            w.id(uuid_bytes(document))
        w.int64(b.int("spontaneous")).id(b.id("reply_to") if b.raw("reply_to") != "none" else bytes(16))
        w.id(b.id("forward_of") if b.raw("forward_of") != "none" else bytes(16))
        header = w.bytes()
        nonce, key, plaintext = b.hex("nonce"), b.hex("key"), b.hex("plaintext")
        ciphertext = xchacha20poly1305_encrypt(key, nonce, plaintext, header)
        check(xchacha20poly1305_decrypt(key, nonce, ciphertext, header) == plaintext, "body decrypts")
        ciphertext_hash = b2b(nonce + ciphertext)
        signing_input = Canonical("globe/v1/message").field(header).field(ciphertext_hash).bytes()
        signature = sender.signing.sign(signing_input)
        return {"header": header, "ciphertext": ciphertext, "ciphertext_hash": ciphertext_hash, "signing_input": signing_input,
                "signature": signature, "digest": b2b(signing_input), "channel_id": b.id("channel_id"),
                "message_id": b.id("message_id")}

    def v_message(self, b: Block) -> dict[str, str]:
        m = self.message(b.name)
        return {k: m[k].hex() for k in ("header", "ciphertext", "ciphertext_hash", "signing_input", "signature", "digest")}

    # §7.1
    def v_channel_info(self, b: Block) -> dict[str, str]:
        plaintext = Canonical("globe/v1/channel-info").text(b.text("title")).text(b.text("description")).bytes()
        aad = Canonical("globe/v1/channel-info").id(b.id("channel_id")).int64(b.int("epoch")).bytes()
        nonce = b.hex("nonce")
        check(len(nonce) == 24, "nonce is 24 bytes")
        sealed = nonce + xchacha20poly1305_encrypt(b.hex("key"), nonce, plaintext, aad)
        check(xchacha20poly1305_decrypt(b.hex("key"), nonce, sealed[24:], aad) == plaintext, "channel info opens")
        return {"plaintext": plaintext.hex(), "aad": aad.hex(), "encrypted_info": sealed.hex()}

    # §9
    def v_receipt(self, b: Block) -> dict[str, str]:
        m = self.message(b.raw("message"))
        recipient = self.devices[b.raw("recipient")]
        data = (Canonical("globe/v1/receipt").text(b.text("kind")).id(m["channel_id"]).id(m["message_id"]).field(m["digest"])
                .id(recipient.user_id).id(recipient.device_id).time(b.int("at_us")).bytes())
        return {"channel_id": str(uuid.UUID(bytes=m["channel_id"])), "message_id": str(uuid.UUID(bytes=m["message_id"])),
                "message_digest": m["digest"].hex(), **signed(data, recipient.signing)}

    # §9.1
    def v_export_manifest(self, b: Block) -> dict[str, str]:
        exporter = self.devices[b.raw("exporter")]
        files = sorted((item.split(":", 1)[0], bytes.fromhex(item.split(":", 1)[1])) for item in b.list("files"))
        data = (Canonical("globe/v1/export-manifest").int64(1).id(b.id("request_id")).time(b.int("exported_at_us"))
                .id(exporter.user_id).id(exporter.device_id).int64(len(files)))
        for path, content in files:
            data = data.text(path).int64(len(content)).field(hashlib.sha256(content).digest())
        return signed(data.bytes(), exporter.signing)

    # §9.2
    def v_audit_checkpoint(self, b: Block) -> dict[str, str]:
        key = Ed25519PrivateKey.from_private_bytes(b.hex("signing_seed"))
        public_key = key.public_key().public_bytes_raw()
        key_id = b2b(public_key)[:8].hex()
        data = (Canonical("globe/v1/audit-checkpoint").id(b.id("network_id")).int64(b.int("position")).field(b.hex("hash"))
                .time(b.int("signed_at_us")).text(key_id).bytes())
        return {"public_key": public_key.hex(), "key_id": key_id, **signed(data, key)}

    # §10
    def v_auth_challenge(self, b: Block) -> dict[str, str]:
        device = self.devices[b.raw("device")]
        challenge = b.hex("challenge")
        check(len(challenge) == 32, "challenge is 32 bytes")
        data = (Canonical("globe/v1/auth-challenge").field(challenge).id(device.device_id).text(b.text("audience"))
                .time(b.int("issued_at_us")).bytes())
        return signed(data, device.signing)

    # §13.1
    def v_directory_log(self, b: Block) -> dict[str, str]:
        out = {}
        link = bytes(32)
        for position, item in enumerate(b.list("entries"), start=1):
            if item == "root":
                kind, content, signature = "root-key", self.root_pk, b""
            elif item.startswith("certificate:"):
                cert = self.certificate(item)
                kind, content, signature = "certificate", cert["signing_input"], cert["signature"]
            elif item.startswith("revocation:"):
                rev = self.revocation(item)
                kind, content, signature = "revocation", rev["signing_input"], rev["signature"]
            else:
                raise CheckFailed(f"unknown directory entry '{item}'")
            entry = Canonical("globe/v1/directory-entry").int64(position).text(kind).field(content).field(signature).bytes()
            link = hashlib.blake2b(link + entry, digest_size=32).digest()
            out[f"link_{position}"] = link.hex()
        return out

    # §11
    def v_safety_number(self, b: Block) -> dict[str, str]:
        out = {}
        digits = []
        for side in ("a", "b"):
            d = self.devices[b.raw(side)]
            fingerprint_input = Canonical("globe/v1/safety-number").id(d.device_id).field(d.signing_pk).field(d.box_pk).bytes()
            h = b2b(fingerprint_input, 64)
            for _ in range(5200):
                h = b2b(h + d.signing_pk, 64)
            side_digits = "".join(f"{int.from_bytes(h[5 * g:5 * g + 5], 'big') % 100000:05d}" for g in range(6))
            out[f"{side}.fingerprint_input"] = fingerprint_input.hex()
            out[f"{side}.digits"] = f'"{side_digits}"'
            digits.append(side_digits)
        joined = "".join(sorted(digits))
        out["safety_number"] = '"' + " ".join(joined[i:i + 5] for i in range(0, 60, 5)) + '"'
        return out

    # §12
    def v_document(self, b: Block) -> dict[str, str]:
        key, prefix, chunk_size, plaintext = b.hex("file_key"), b.hex("nonce_prefix"), b.int("chunk_size"), b.hex("plaintext")
        check(64 <= chunk_size <= 1048576, "chunk size in range")
        header = b"GLOBEDOC" + b"\x01" + struct.pack(">I", chunk_size) + b.id("document_id") + prefix
        check(len(header) == 45, "header is 45 bytes")
        count = max(1, -(-len(plaintext) // chunk_size))
        out = {"header": header.hex(), "chunk_count": str(count)}
        ciphertext = bytearray(header)
        for i in range(count):
            final = i == count - 1
            nonce = prefix + struct.pack(">Q", i)
            aad = Canonical("globe/v1/document-chunk").field(header).int64(i).int64(1 if final else 0).bytes()
            chunk = xchacha20poly1305_encrypt(key, nonce, plaintext[i * chunk_size:(i + 1) * chunk_size], aad)
            out[f"chunk.{i}.nonce"] = nonce.hex()
            out[f"chunk.{i}.aad"] = aad.hex()
            out[f"chunk.{i}.ciphertext"] = chunk.hex()
            ciphertext += chunk
        check(len(ciphertext) == 45 + len(plaintext) + 16 * count, "CiphertextLength formula")
        check(read_document(bytes(ciphertext), key) == plaintext, "reader (§12.3) recovers the plaintext")
        out["ciphertext"] = bytes(ciphertext).hex()
        out["ciphertext_length"] = str(len(ciphertext))
        out["plaintext_hash"] = b2b(plaintext).hex()
        return out

    # §13
    def v_argon2id(self, b: Block) -> dict[str, str]:
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
        kdf = Argon2id(salt=b.hex("salt"), length=32, iterations=b.int("ops_limit"), lanes=1,
                       memory_cost=b.int("mem_limit_bytes") // 1024)
        return {"key": kdf.derive(b.text("passphrase").encode("utf-8")).hex()}


def signed(data: bytes, key: Ed25519PrivateKey) -> dict[str, str]:
    signature = key.sign(data)
    check(verify(key.public_key().public_bytes_raw(), data, signature), "signature verifies")
    return {"signing_input": data.hex(), "signature": signature.hex()}


def verify(public_key: bytes, data: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
        return True
    except InvalidSignature:
        return False


MAY_ISSUE = {
    None: {"network-administrator"},
    "network-administrator": {"authority-administrator", "auditor"},
    "authority-administrator": {"investigator", "auditor", "observer", "partner-tool"},
}


def verify_chain(chain: list[dict], roots: list[bytes], at: int, revocations: list[dict]) -> str:
    """§5.2, step by step; returns 'ok <role>' or the error's name."""
    if not 1 <= len(chain) <= 3:
        return "CertificateChainBrokenException"
    top = chain[-1]
    if top["issuer_device_id"] is not None or top["issuer_pk"] not in roots:
        return "UntrustedRootException"
    for i in range(len(chain) - 1, -1, -1):
        cert = chain[i]
        issuer = chain[i + 1] if i < len(chain) - 1 else None
        if not verify(cert["issuer_pk"], cert["signing_input"], cert["signature"]):
            return "SignatureInvalidException"
        if issuer is not None and (cert["issuer_device_id"] != issuer["device_id"] or cert["issuer_pk"] != issuer["signing_pk"]):
            return "CertificateChainBrokenException"
        if cert["role"] not in MAY_ISSUE.get(issuer["role"] if issuer else None, set()):
            return "IssuerNotAllowedException"
        if issuer is not None and issuer["role"] == "authority-administrator" and issuer["authority_id"] != cert["authority_id"]:
            return "IssuerNotAllowedException"
        if at < cert["not_before"]:
            return "CertificateNotYetValidException"
        if at >= cert["not_after"]:
            return "CertificateExpiredException"
        for rev in revocations:
            if rev["certificate_id"] != cert["certificate_id"] or rev["device_id"] != cert["device_id"] or rev["revoked_at"] > at:
                continue
            if rev["issuer_device_id"] is None:
                authorised = rev["issuer_pk"] in roots
            else:
                authorised = any(above["device_id"] == rev["issuer_device_id"] and above["signing_pk"] == rev["issuer_pk"]
                                 for above in chain[i + 1:])
            if authorised:
                return "CertificateRevokedException"
    return f"ok {chain[0]['role']}"


def read_document(ciphertext: bytes, key: bytes) -> bytes | None:
    """§12.3 without the attack diagnosis: None on any failure."""
    header = ciphertext[:45]
    if len(header) < 45 or header[:8] != b"GLOBEDOC" or header[8] != 1:
        return None
    chunk_size = struct.unpack(">I", header[9:13])[0]
    full = chunk_size + 16
    body = ciphertext[45:]
    if not body:
        return None
    out = bytearray()
    i = 0
    while True:
        piece = body[i * full:(i + 1) * full]
        last = len(piece) < full or len(body) == (i + 1) * full
        aad = Canonical("globe/v1/document-chunk").field(header).int64(i).int64(1 if last else 0).bytes()
        plain = xchacha20poly1305_decrypt(key, header[29:45] + struct.pack(">Q", i), piece, aad)
        if plain is None:
            return None
        out += plain
        if last:
            return bytes(out)
        i += 1


class CheckFailed(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise CheckFailed(what)


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "protocol.md"
    blocks = parse(path)
    vectors = Vectors(blocks)
    failures = 0
    for name, block in blocks.items():
        method = getattr(vectors, "v_" + name.split(":")[0].replace("-", "_"), None)
        problems = []
        try:
            if method is None:
                raise CheckFailed(f"unknown vector kind in '{name}'")
            for field, value in method(block).items():
                if field not in block.values:
                    problems.append(f"missing line '{field} = {value}'")
                elif block.values[field] != value:
                    problems.append(f"{field}: document {block.values[field]}, computed {value}")
        except (CheckFailed, KeyError, ValueError) as e:
            problems.append(f"{type(e).__name__}: {e}")
        print(("PASS " if not problems else "FAIL ") + name)
        for problem in problems:
            print("     " + problem)
        failures += bool(problems)
    print(f"{len(blocks) - failures} passed, {failures} failed")
    return 1 if failures or not blocks else 0


if __name__ == "__main__":
    sys.exit(main())
