"""EME (ECB-Mix-ECB), the wide-block mode rclone uses to encrypt names.

Halevi and Rogaway, "A Parallelizable Enciphering Mode" (2003), as implemented by the Go
package ``github.com/rfjakob/eme`` that rclone uses: a tweakable, length-preserving permutation
of 1..128 AES blocks. Every output byte depends on every input byte, so names that share a
prefix do not share an encrypted prefix, and the same name always encrypts the same way
(deterministic, which a sync needs to find a file again by its name).

Built on AES-ECB from ``cryptography`` (one block at a time is all EME needs from AES).
Multiplication by 2 in GF(2^128) is done on the block as a 128-bit little-endian integer,
which is byte for byte the EME-32 draft's ``multByTwo``.
"""

from __future__ import annotations

from collections.abc import Callable

BLOCK = 16
MAX_BLOCKS = 128  # rfjakob/eme refuses more: 2048 bytes
_MASK128 = (1 << 128) - 1


def _double(x: int) -> int:
    """x * 2 in GF(2^128), reduction polynomial x^128 + x^7 + x^2 + x + 1 (0x87)."""
    carry = x >> 127
    return ((x << 1) & _MASK128) ^ (0x87 if carry else 0)


def _int(block: bytes) -> int:
    return int.from_bytes(block, "little")


def _bytes(x: int) -> bytes:
    return x.to_bytes(BLOCK, "little")


class EME:
    """EME over AES with one key. Not thread-safe (it reuses its AES contexts): give each
    thread its own, they are cheap."""

    def __init__(self, key: bytes) -> None:
        # Imported here, not with the module: see syncd.crypt.content's _sodium.
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        cipher = Cipher(algorithms.AES(key), modes.ECB())
        self._enc = cipher.encryptor()
        self._dec = cipher.decryptor()
        # L = 2 * AES-enc(K, 0); the table holds 2^j * L for j = 0..127.
        lvalue = _double(_int(self._enc.update(bytes(BLOCK))))
        self._ltable: list[int] = []
        for _ in range(MAX_BLOCKS):
            self._ltable.append(lvalue)
            lvalue = _double(lvalue)

    def encrypt(self, tweak: bytes, data: bytes) -> bytes:
        """EME-encrypt ``data`` (16..2048 bytes, a multiple of 16) under ``tweak`` (16 bytes)."""
        return self._transform(tweak, data, self._enc.update)

    def decrypt(self, tweak: bytes, data: bytes) -> bytes:
        """The inverse of :meth:`encrypt`."""
        return self._transform(tweak, data, self._dec.update)

    def decrypt_many(self, tweak: bytes, joined: bytes, blocks_each: int) -> bytes:
        """:meth:`decrypt` of many messages of ``blocks_each`` blocks each, given and returned
        end to end (a listing's names, grouped by length).

        EME carries nothing from one message to the next, so the messages share each of the
        three AES passes (one ECB call each), and the xors with the L table are one
        big-integer xor over all of them; only the middle step, which mixes one message's
        blocks, runs per message, and for one-block messages (most names) not even that.
        Measured on 100 names: one block 2.7 -> 0.2 µs each, two blocks 8.5 -> 3.7 µs.
        """
        _check_tweak(tweak)
        if not 1 <= blocks_each <= MAX_BLOCKS:
            raise ValueError(f"EME works on 1 to {MAX_BLOCKS} blocks, got {blocks_each}")
        if len(joined) % (blocks_each * BLOCK):
            raise ValueError(f"EME data must be whole messages of {blocks_each * BLOCK} bytes")
        return self._messages(tweak, joined, blocks_each, self._dec.update)

    def _transform(self, tweak: bytes, data: bytes, aes: Callable[[bytes], bytes]) -> bytes:
        _check_tweak(tweak)
        if len(data) % BLOCK:
            raise ValueError("EME data must be a multiple of 16 bytes")
        m = len(data) // BLOCK
        if not 1 <= m <= MAX_BLOCKS:
            raise ValueError(f"EME works on 1 to {MAX_BLOCKS} blocks, got {m}")
        if m == 1:
            # One block (most file names): no loops, no joins, no masks.
            l0 = self._ltable[0]
            t = _int(tweak)
            mp = _int(aes(_bytes(_int(data) ^ l0))) ^ t
            mc = _int(aes(_bytes(mp)))
            return _bytes(_int(aes(_bytes(mc ^ t))) ^ l0)
        return self._messages(tweak, data, m, aes)

    def _messages(
        self, tweak: bytes, joined: bytes, m: int, ecb: Callable[[bytes], bytes]
    ) -> bytes:
        """EME of the messages of ``m`` blocks in ``joined``, end to end; ``ecb`` is the AES
        encryptor's or decryptor's ``update`` (ECB, so each call is stateless)."""
        size = len(joined)
        if not size:
            return b""
        count = size // (m * BLOCK)
        # PPj = 2^(j-1)*L xor Pj; PPPj = AES(PPj). The xor with the repeated L pattern is one
        # xor of little-endian integers over all the messages; one ECB call for all blocks.
        lmask = int.from_bytes(b"".join(_bytes(x) for x in self._ltable[:m]) * count, "little")
        tmask = int.from_bytes(tweak * count, "little")
        ppp = ecb((_int(joined) ^ lmask).to_bytes(size, "little"))
        if m == 1:
            # MP = PPP xor T; MC = AES(MP); CCC = MC xor T: no mixing between blocks.
            mc = _int(ecb((_int(ppp) ^ tmask).to_bytes(size, "little")))
            cc = ecb((mc ^ tmask).to_bytes(size, "little"))
            return (_int(cc) ^ lmask).to_bytes(size, "little")
        # MP = (xor of PPPj) xor T, per message; MC = AES(MP), one ECB call for all.
        t = _int(tweak)
        width = m * BLOCK
        messages: list[list[int]] = []
        mps: list[bytes] = []
        for k in range(count):
            base = k * width
            blocks = [_int(ppp[base + j * BLOCK : base + (j + 1) * BLOCK]) for j in range(m)]
            mp = t
            for b in blocks:
                mp ^= b
            messages.append(blocks)
            mps.append(_bytes(mp))
        mcs = ecb(b"".join(mps))
        # M = MP xor MC; CCCj = 2^(j-1)*M xor PPPj for j >= 2 (1-based);
        # CCC1 = (xor CCCj) xor T xor MC.
        ccc: list[bytes] = []
        for k, blocks in enumerate(messages):
            mc = _int(mcs[k * BLOCK : (k + 1) * BLOCK])
            mvalue = _int(mps[k]) ^ mc
            ccc1 = mc ^ t
            for j in range(1, m):
                mvalue = _double(mvalue)
                blocks[j] ^= mvalue
                ccc1 ^= blocks[j]
            blocks[0] = ccc1
            ccc.extend(_bytes(b) for b in blocks)
        # CCj = AES(CCCj); Cj = 2^(j-1)*L xor CCj.
        cc = ecb(b"".join(ccc))
        return (_int(cc) ^ lmask).to_bytes(size, "little")


def _check_tweak(tweak: bytes) -> None:
    if len(tweak) != BLOCK:
        raise ValueError("EME tweak must be 16 bytes")
