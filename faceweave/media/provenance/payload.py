"""The watermark's payload: 4-bit version, 20-bit random id, CRC-16; soft (Chase) decoding."""

from __future__ import annotations

import itertools
import secrets

import numpy as np

FORMAT_VERSION = 1
VERSION_BITS, ID_BITS, CRC_BITS = 4, 20, 16
PAYLOAD_BITS = VERSION_BITS + ID_BITS
CODE_BITS = PAYLOAD_BITS + CRC_BITS
CHASE_BITS = 6  # flip one of the six least reliable bits
# One flip, not two: with up to two flips (22 candidates) a noise-like read passed the CRC with a wrong id
# (p ≈ 22 / 2¹⁶ per read; seen in CI as a read of 722292 for 730992). One flip and the version check cut
# the false accepts of a random word to ≈ 7 / 2¹⁶ / 16.
CHASE_MAX_FLIPS = 1


def crc16(bits: np.ndarray) -> int:
    """CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF) over a bit sequence, most significant first."""
    reg = 0xFFFF
    for b in bits.astype(np.uint8).tolist():
        top = ((reg >> 15) & 1) ^ b
        reg = (reg << 1) & 0xFFFF
        if top:
            reg ^= 0x1021
    return reg


def _int_bits(value: int, n: int) -> np.ndarray:
    return np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], np.uint8)


def _bits_int(bits: np.ndarray) -> int:
    v = 0
    for b in bits.tolist():
        v = (v << 1) | int(b)
    return v


def new_payload_id() -> int:
    """A random 20-bit id for one output (not derived from any input)."""
    return secrets.randbits(ID_BITS)


def encode_payload(payload_id: int, version: int = FORMAT_VERSION) -> np.ndarray:
    """40 bits: 4-bit version, 20-bit id, CRC-16 of those 24."""
    if not 0 <= payload_id < 1 << ID_BITS:
        raise ValueError(f"payload_id must fit in {ID_BITS} bits")
    data = np.concatenate([_int_bits(version, VERSION_BITS), _int_bits(payload_id, ID_BITS)])
    return np.concatenate([data, _int_bits(crc16(data), CRC_BITS)])


def decode_payload(bits: np.ndarray) -> tuple[int, int] | None:
    """(version, id) when the CRC matches and the version is this format's, else None."""
    data, crc = bits[:PAYLOAD_BITS], bits[PAYLOAD_BITS:CODE_BITS]
    if crc16(data) != _bits_int(crc) or _bits_int(data[:VERSION_BITS]) != FORMAT_VERSION:
        return None
    return _bits_int(data[:VERSION_BITS]), _bits_int(data[VERSION_BITS:])


def chase_decode(soft: np.ndarray, flips: int = CHASE_BITS) -> tuple[tuple[int, int], int] | None:
    """Hard decision, then flip one of the ``flips`` least reliable bits; ((version, id), errors)."""
    hard = (soft > 0).astype(np.uint8)
    weak = np.argsort(np.abs(soft))[:flips]
    for k in range(CHASE_MAX_FLIPS + 1):
        for idx in itertools.combinations(weak.tolist(), k):
            b = hard.copy()
            b[list(idx)] ^= 1
            got = decode_payload(b)
            if got is not None:
                return got, k
    return None
