"""An invisible watermark keyed to the face: spread-spectrum patterns in the face's aligned frame.

Why this design (measured against alternatives in ``benchmarks/watermark_robustness.py``): a swap
changes only the face, and faceweave promises that every pixel outside it stays identical, so the
mark must live inside the face. A mark laid out in the *aligned* face frame (the same similarity
alignment to the CelebA five-point template that the rest of faceweave uses) is found again after a
resize, a mild crop or a re-encode simply by detecting and aligning the face again: no
synchronisation pattern is needed, and scale/translation/rotation come from the landmarks.

Embedding (Malvar & Florencio's "improved spread spectrum" with informed embedding):

1. the luminance of the face is warped to an ``N×N`` aligned crop;
2. ``B`` fixed pseudo-random patterns ``P_j`` (band-limited to a low/mid spatial-frequency ring,
   windowed by a soft inner-face ellipse, orthonormal and orthogonal to the window itself, so a
   brightness change does not move them) give projections ``y_j = <crop, P_j>``;
3. each coded bit ``b_j ∈ {−1, +1}`` needs ``b_j·y_j ≥ α``; where it is not yet so, the crop is moved
   along ``P_j`` by exactly what is missing (the host's own projection is cancelled, not fought);
4. the change is warped back to the photo and added to R, G and B equally, only where the swap
   changed the target (pixels outside stay bit-identical); two passes correct what the mask,
   rounding and clipping took away.

Detection works on the high-passed crop (crop − its Gaussian blur): the face's own low frequencies,
which no affordable mark could outweigh, are removed, and the patterns sit above that cut.

Payload: 8-bit magic (faceweave), 8-bit format/version byte, 24-bit random id, CRC-24 over the 40
bits: 64 coded bits. Landmarks move by a pixel or two after a resize or a re-encode, so detection
first finds the alignment: the 16 known bits (magic + version) form a pilot pattern that is
correlated (``cv2.matchTemplate``) with the high-passed crop at every integer shift within
±``SEARCH_RADIUS`` and at three scales. At the best few alignments it reads ``sign(y_j)`` and
accepts only when the magic and the CRC match; the least reliable bits are flipped (Chase-style soft
decoding) to correct up to two bit errors. An unmarked face passes with probability ≈ tries × 2⁻²⁴
(the CRC), measured on untouched photos in the benchmark.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import secrets
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from faceweave.analysis.align import CELEBA_5PT, align_matrix

log = logging.getLogger(__name__)

KEY = b"faceweave-watermark-v1"
MAGIC = 0xF7  # "faceweave"
FORMAT_VERSION = 1
N = 128  # side of the aligned crop the patterns live in
CROP_ORIGIN = (29.0, 70.0)  # the RSGAN face crop of CelebA's aligned image (DESIGN.md §4) …
CROP_SIDE = 120.0  # … 120×120 CelebA pixels, scaled to N×N
BAND = (16.0, 40.0)  # pattern frequencies, cycles per crop side (radial ring)
ALPHA = 14.0  # target |projection| per bit (luma levels × sqrt(pixels) of the unit pattern)
HP_SIGMA = 1.5  # detection works on crop − GaussianBlur(crop, σ): most of the face itself is removed
PILOT_BITS = 16  # magic + version: known to the detector, used to find the alignment
PAYLOAD_BITS = 40
CRC_BITS = 24
CODE_BITS = PAYLOAD_BITS + CRC_BITS
CHASE_BITS = 6  # flip up to two of the six least reliable bits
SEARCH_RADIUS = 6  # crop pixels searched around the landmark alignment, every integer shift
SEARCH_SCALES = (0.0, -0.02, 0.02)  # log-scale offsets
SEARCH_SUBPIXEL = ((0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5))  # half-pixel phases of the shift grid
SEARCH_PEAKS = 3  # alignments (best pilot correlation) that are decoded


# ---------------------------------------------------------------- payload coding
def crc24(bits: np.ndarray) -> int:
    """CRC-24/OpenPGP (polynomial 0x864CFB, initial 0xB704CE) over a bit sequence, most significant first."""
    reg = 0xB704CE
    for b in bits.astype(np.uint8).tolist():
        top = ((reg >> 23) & 1) ^ b
        reg = (reg << 1) & 0xFFFFFF
        if top:
            reg ^= 0x864CFB
    return reg


def _int_bits(value: int, n: int) -> np.ndarray:
    return np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], np.uint8)


def _bits_int(bits: np.ndarray) -> int:
    v = 0
    for b in bits.tolist():
        v = (v << 1) | int(b)
    return v


def new_payload_id() -> int:
    """A random 24-bit id for one output (not derived from any input)."""
    return secrets.randbits(24)


def encode_payload(payload_id: int, version: int = FORMAT_VERSION) -> np.ndarray:
    """64 bits: magic, version, 24-bit id, CRC-24 of those 40."""
    if not 0 <= payload_id < 1 << 24:
        raise ValueError("payload_id must fit in 24 bits")
    data = np.concatenate([_int_bits(MAGIC, 8), _int_bits(version, 8), _int_bits(payload_id, 24)])
    return np.concatenate([data, _int_bits(crc24(data), CRC_BITS)])


def decode_payload(bits: np.ndarray) -> tuple[int, int] | None:
    """(version, id) when the magic and the CRC match, else None."""
    data, crc = bits[:PAYLOAD_BITS], bits[PAYLOAD_BITS:CODE_BITS]
    if _bits_int(data[:8]) != MAGIC or crc24(data) != _bits_int(crc):
        return None
    return _bits_int(data[8:16]), _bits_int(data[16:40])


def chase_decode(soft: np.ndarray, flips: int = CHASE_BITS) -> tuple[tuple[int, int], int] | None:
    """Hard decision, then flip up to two of the ``flips`` least reliable bits; ((version, id), errors)."""
    hard = (soft > 0).astype(np.uint8)
    weak = np.argsort(np.abs(soft))[:flips]
    for k in range(3):
        for idx in itertools.combinations(weak.tolist(), k):
            b = hard.copy()
            b[list(idx)] ^= 1
            got = decode_payload(b)
            if got is not None:
                return got, k
    return None


# ---------------------------------------------------------------- patterns
def template_points(n: int = N) -> np.ndarray:
    """CelebA's five points in the N×N watermark crop."""
    return (CELEBA_5PT - np.array(CROP_ORIGIN)) * (n / CROP_SIDE)


def crop_matrix(landmarks: np.ndarray, n: int = N) -> np.ndarray:
    """2×3 similarity taking the photo to the N×N aligned watermark crop."""
    return align_matrix(landmarks, size=(n, n), template=template_points(n), template_size=(n, n))


@cache
def window(n: int = N) -> np.ndarray:
    """Soft inner-face ellipse (eyes to chin, cheek to cheek) in the aligned crop, values in [0, 1]."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64) + 0.5
    cx, cy, ax, ay = 0.5 * n, 0.54 * n, 0.36 * n, 0.42 * n
    r = np.sqrt(((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2)
    return np.clip((1.15 - r) / 0.3, 0.0, 1.0)


@cache
def patterns(n: int = N, bits: int = CODE_BITS, band: tuple[float, float] = BAND) -> np.ndarray:
    """``bits`` orthonormal band-limited patterns (bits × n²), orthogonal to the window (brightness)."""
    seed = int.from_bytes(hashlib.sha256(KEY + f"{n}:{bits}:{band}".encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(n)[:, None] * n
    fx = np.fft.rfftfreq(n)[None, :] * n
    rad = np.sqrt(fx**2 + fy**2)
    ring = ((rad >= band[0]) & (rad <= band[1])).astype(np.float64)
    noise = rng.standard_normal((bits, n, n))
    p = np.fft.irfft2(np.fft.rfft2(noise) * ring, s=(n, n))
    w = window(n)
    cols = np.concatenate([w.reshape(1, -1), (p * w).reshape(bits, -1)]).T
    q, _ = np.linalg.qr(cols)
    return np.ascontiguousarray(q[:, 1:].T)


# ---------------------------------------------------------------- embedding
def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _crop(y: np.ndarray, m: np.ndarray, n: int = N) -> np.ndarray:
    return cv2.warpAffine(y, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def highpass(c: np.ndarray, sigma: float = HP_SIGMA) -> np.ndarray:
    """The crop less its blur: the detector's host suppression (the patterns sit above this cut)."""
    return c - cv2.GaussianBlur(c, (0, 0), sigma)


def project(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Soft bits: the high-passed aligned crop of luma ``y`` projected on every pattern."""
    return patterns() @ highpass(_crop(y, m)).astype(np.float64).ravel()


@cache
def pattern_gain() -> np.ndarray:
    """How much of each pattern survives the detector's high-pass (<HP(P_j), P_j>)."""
    p = patterns()
    return np.array([p[j] @ highpass(p[j].reshape(N, N).astype(np.float32)).ravel() for j in range(len(p))])


def embed(
    rgb: np.ndarray,
    landmarks: np.ndarray,
    region: np.ndarray,
    bits: np.ndarray,
    *,
    alpha: float = ALPHA,
    passes: int = 3,
) -> np.ndarray:
    """Return a copy of ``rgb`` (H×W×3 uint8) carrying ``bits`` in the face of ``landmarks``.

    ``region`` (H×W bool) is where pixels may change: the swapped face. Outside it the result is
    bit-identical to ``rgb``.
    """
    h, w = rgb.shape[:2]
    p = patterns()
    m = crop_matrix(landmarks)
    sign = bits.astype(np.float64) * 2 - 1
    reg = region.astype(np.float32)
    out = rgb.copy()
    acc = np.zeros((h, w), np.float32)
    base = rgb.astype(np.float32)
    for _ in range(passes):
        y = project(luma(out), m)
        need = alpha * 1.1 - sign * y  # a little over α so rounding keeps the margin
        d = np.where(need > 0, need * sign / pattern_gain(), 0.0)
        if not np.any(d):
            break
        delta = (d @ p).reshape(N, N).astype(np.float32)
        back = cv2.warpAffine(delta, m, (w, h), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        acc += back * reg
        out = np.clip(np.rint(base + acc[..., None]), 0, 255).astype(np.uint8)
    return out


# ---------------------------------------------------------------- detection
@dataclass
class WatermarkHit:
    """One face that carried the mark."""

    face_index: int
    version: int
    payload_id: int
    bit_errors: int  # bits corrected by soft decoding
    strength: float  # mean b_j·y_j / α over the bits (≈1 on a fresh mark, 0 on an unmarked face)

    @property
    def payload(self) -> str:
        return f"faceweave-wm v{self.version} id {self.payload_id:06x}"


def _offset(m: np.ndarray, dx: float, dy: float, ds: float) -> np.ndarray:
    """Compose a small scale about the crop centre, then a shift, after ``m``."""
    s = float(np.exp(ds))
    c = N / 2.0
    a = np.array([[s, 0.0, c - s * c + dx], [0.0, s, c - s * c + dy], [0, 0, 1.0]])
    return (a @ np.vstack([m, [0, 0, 1.0]]))[:2]


@cache
def _pattern_spectra(size: int) -> np.ndarray:
    """Conjugate 2-D spectra of the patterns zero-padded to ``size``: correlation at every shift at once."""
    p = patterns().reshape(-1, N, N)
    return np.conj(np.fft.rfft2(p, s=(size, size)))


def soft_bits_all_shifts(y: np.ndarray, m: np.ndarray, r: int) -> np.ndarray:
    """Soft bits at every integer shift within ±r of alignment ``m``: array (2r+1, 2r+1, bits).

    The crop is taken r pixels larger on each side; circular correlation of that (N+2r)² crop with
    each N² pattern has no wrap-around for the lags 0..2r, so one FFT per pattern gives all shifts.
    """
    size = N + 2 * r
    big = highpass(cv2.warpAffine(y, _offset(m, r, r, 0.0), (size, size), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)).astype(np.float64)
    corr = np.fft.irfft2(np.fft.rfft2(big)[None] * _pattern_spectra(size), s=(size, size))
    return np.moveaxis(corr[:, : 2 * r + 1, : 2 * r + 1], 0, -1)


def read_face(
    y: np.ndarray, landmarks: np.ndarray, *, search: bool = True
) -> tuple[tuple[int, int], int, float] | None:
    """Decode the mark from one face of a luma image; ((version, id), bit errors, strength) or None.

    Every half-pixel shift within ±SEARCH_RADIUS (and three scales) is tried; only shifts where at least 13 of
    the 16 known pilot bits agree are soft-decoded, nearest the landmark alignment first.
    """
    m0 = crop_matrix(landmarks)
    r = SEARCH_RADIUS if search else 0
    pilot = encode_payload(0)[:PILOT_BITS].astype(np.float64) * 2 - 1
    tries = [(ds, sx, sy) for ds in SEARCH_SCALES for sx, sy in SEARCH_SUBPIXEL] if search else [(0.0, 0.0, 0.0)]
    for ds, sx, sy in tries:
        soft = soft_bits_all_shifts(y, _offset(m0, sx, sy, ds), r)
        agree = ((soft[..., :PILOT_BITS] * pilot) > 0).sum(-1)
        oy, ox = np.nonzero(agree >= PILOT_BITS - 3)
        order = np.argsort((oy - r) ** 2 + (ox - r) ** 2, kind="stable")
        for k in order.tolist():
            v = soft[oy[k], ox[k]]
            got = chase_decode(v)
            if got is not None:
                (ver, pid), errs = got
                sign = encode_payload(pid, ver).astype(np.float64) * 2 - 1
                return (ver, pid), errs, float(np.mean(sign * v) / ALPHA)
    return None


def detect(rgb: np.ndarray, faces: list | None = None, *, search: bool = True) -> list[WatermarkHit]:
    """Every face of ``rgb`` that carries a faceweave mark (faces are found when not given)."""
    if faces is None:
        from faceweave.analysis import analyze

        faces = analyze(rgb, mesh=False, identity=False)
    y = luma(rgb)
    hits = []
    for f in faces:
        got = read_face(y, f.landmarks, search=search)
        if got is not None:
            (ver, pid), errs, strength = got
            hits.append(WatermarkHit(f.index, ver, pid, errs, strength))
    return hits


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR (dB) between two uint8 images, over ``mask`` when given."""
    d = a.astype(np.float64) - b.astype(np.float64)
    if mask is not None:
        d = d[mask.astype(bool)]
    mse = float(np.mean(d**2)) if d.size else 0.0
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
