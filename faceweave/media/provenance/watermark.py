"""An invisible watermark keyed to the face: spread-spectrum patterns in the face's aligned frame.

Why this design (candidates measured with ``benchmarks/watermark_robustness.py``, see
docs/provenance.md): a swap changes only the face, and faceweave promises that every pixel outside it
stays identical, so the mark must live inside the face. A mark laid out in the *aligned* face frame
(a similarity fit of four stable landmark anchors to the CelebA template, ``N×N`` crop) is found
again after a resize, a mild crop or a re-encode by detecting and aligning the face again: scale,
rotation and position come from the landmarks, and a small search absorbs their jitter.

Embedding (Malvar & Florencio's "improved spread spectrum": the host's projection is cancelled):

1. the luma of the face is warped to the aligned crop; the detector looks at it through a high-pass
   (crop − GaussianBlur(crop, σ)), which removes the face's strong low frequencies;
2. fixed pseudo-random patterns, band-limited and windowed by a soft inner-face ellipse, orthonormal
   and orthogonal to the window (a brightness change does not move them): one *pilot* ``P_0`` and
   ``DECOYS`` decoys in a mid band (robust to 0.5× and JPEG), and 40 *payload* patterns in a higher
   band (version, 20-bit random id, CRC-16);
3. the crop is moved along ``P_0`` until its projection is ``PILOT_ALPHA`` (most of the energy), and
   along each payload pattern until ``b_j·y_j ≥ PAYLOAD_ALPHA``; decoys are left alone;
4. the change is warped back to the photo along the RGB direction that moves luma at the least
   squared error, only where the swap changed the target (pixels outside stay bit-identical); three
   passes correct what mask, rounding and clipping took away; scaled down if PSNR < ``PSNR_MIN``.

Detection (zero-bit first, payload second): faces are found and aligned; the high-passed crop is
divided by its local rms (``whiten``: the face's own texture — eyes, brows, beard — is the noise
the pilot competes with, and it is far from uniform, so smooth skin is weighted up; after 0.5× +
JPEG q75 this raised the median z from 7.9 to 12.4 on the same swaps); for every integer shift in
±``SEARCH_RADIUS`` (FFT correlation), two half-pixel phases and five scales, the statistic
``z = y_0 / rms(decoy projections)`` compares the pilot with what the same face gives on patterns
that were never embedded, so it does not depend on how textured the face is. A face is marked when
the best ``z ≥ Z_THRESHOLD`` (false-positive rate measured on untouched photos and frames in the
benchmark). At that alignment the payload is decoded (hard decisions, then Chase-style flips of up
to two of the six least reliable bits, accepted only when the CRC-16 matches); after strong attacks
the mark can be detected while its payload is no longer readable.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from faceweave.analysis.align import CELEBA_5PT, similarity_transform
from faceweave.media.provenance.payload import (  # noqa: F401 - re-exported: the payload is part of the mark
    CODE_BITS,
    FORMAT_VERSION,
    ID_BITS,
    PAYLOAD_BITS,
    chase_decode,
    crc16,
    decode_payload,
    encode_payload,
    new_payload_id,
)

log = logging.getLogger(__name__)

KEY = b"faceweave-watermark-v1"
N = 128  # side of the aligned crop the patterns live in
CROP_ORIGIN = (29.0, 70.0)  # the RSGAN face crop of CelebA's aligned image (DESIGN.md §4) …
CROP_SIDE = 120.0  # … 120×120 CelebA pixels, scaled to N×N
PILOT_BAND = (20.0, 48.0)
PAYLOAD_BAND = (16.0, 40.0)
HP_SIGMA = 1.5  # detection works on crop − GaussianBlur(crop, σ): most of the face itself is removed
PILOT_ALPHA = 200.0  # pilot projection aimed at (luma × sqrt(crop px)); in practice PSNR_MIN binds first
PAYLOAD_ALPHA = 9.0  # minimum |projection| of each payload bit
DECOYS = 64
Z_THRESHOLD = 6.0  # null z on untouched group photos reached 5.2 in the benchmark
PSNR_MIN = 40.15  # dB inside the face; the mark is scaled down rather than go below (the target is 40)
SEARCH_RADIUS = 6  # crop pixels searched around the landmark alignment, every integer shift
SEARCH_SCALES = (0.0, -0.02, 0.02, -0.04, 0.04)  # log-scale offsets
SEARCH_SUBPIXEL = ((0.0, 0.0), (0.5, 0.5))  # half-pixel phases of the shift grid
SEARCH_ROTATIONS = (0.0,)  # radians about the crop centre
SEARCH_ANCHORS = ((0, 1, 2, 3),)  # anchor subsets the alignment is fitted to (eyes, nose, mouth)
WHITEN_SIGMA = 4.0  # crop pixels: the local rms the detector divides by (0 = off)
WHITEN_FLOOR = 0.5  # luma levels: the smallest local rms (flat areas are not amplified without bound)
EMBED_GAMMA = 1.0  # the pilot's change is P_0 · s^-γ (s: the face's local rms): γ = 1 matches the whitened detector
EMBED_FLOOR = 1.5  # luma levels: the smallest local rms the embedding weights by


# ---------------------------------------------------------------- patterns
# Four stable anchors in CelebA's aligned frame: the eye centres (as in CELEBA_5PT), the centroid of
# the nine nose points and of the twenty mouth points. Centroids of many landmarks jitter far less
# than single points (nose tip, mouth corners) when a photo is resized or re-encoded, and the
# alignment only has to be the same at embedding and at detection, not exact.
ANCHORS = np.array([CELEBA_5PT[0], CELEBA_5PT[1], [88.0, 124.0], [88.5, 152.5]], np.float64)


def anchor_points(landmarks: np.ndarray) -> np.ndarray:
    lm = np.asarray(landmarks, np.float64)
    return np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[27:36].mean(0), lm[48:68].mean(0)])


def crop_matrix(landmarks: np.ndarray, n: int = N, anchors: tuple[int, ...] = (0, 1, 2, 3)) -> np.ndarray:
    """2×3 similarity taking the photo to the N×N aligned watermark crop (fitted to ``anchors``)."""
    k = list(anchors)
    return similarity_transform(anchor_points(landmarks)[k], ((ANCHORS - np.array(CROP_ORIGIN)) * (n / CROP_SIDE))[k])


@cache
def window(n: int = N) -> np.ndarray:
    """Soft inner-face ellipse (eyes to chin, cheek to cheek) in the aligned crop, values in [0, 1]."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64) + 0.5
    # where the warp engine's skin mask lies in this frame on the sample swaps: eyes to chin, inside the cheeks
    cx, cy, ax, ay = 0.5 * n, 0.5 * n, 0.25 * n, 0.32 * n
    r = np.sqrt(((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2)
    return np.clip((1.15 - r) / 0.3, 0.0, 1.0)


def _band_noise(rng: np.random.Generator, count: int, n: int, band: tuple[float, float]) -> np.ndarray:
    fy = np.fft.fftfreq(n)[:, None] * n
    fx = np.fft.rfftfreq(n)[None, :] * n
    rad = np.sqrt(fx**2 + fy**2)
    ring = ((rad >= band[0]) & (rad <= band[1])).astype(np.float64)
    return np.fft.irfft2(np.fft.rfft2(rng.standard_normal((count, n, n))) * ring, s=(n, n))


@cache
def patterns(n: int = N) -> np.ndarray:
    """Rows: pilot, DECOYS decoys (pilot band), CODE_BITS payload patterns (payload band); orthonormal,
    orthogonal to the window. Shape (1 + DECOYS + CODE_BITS, n²)."""
    seed = int.from_bytes(hashlib.sha256(KEY + f"{n}:{PILOT_BAND}:{PAYLOAD_BAND}".encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    w = window(n)
    raw = np.concatenate([_band_noise(rng, 1 + DECOYS, n, PILOT_BAND), _band_noise(rng, CODE_BITS, n, PAYLOAD_BAND)])
    cols = np.concatenate([w.reshape(1, -1), (raw * w).reshape(len(raw), -1)]).T
    q, _ = np.linalg.qr(cols)
    return np.ascontiguousarray(q[:, 1:].T)


PILOT = 0
DECOY = slice(1, 1 + DECOYS)
PAYLOAD = slice(1 + DECOYS, 1 + DECOYS + CODE_BITS)


LUMA = np.array([0.299, 0.587, 0.114], np.float32)
# The RGB change that moves luma by 1 at the least squared error: LUMA / |LUMA|² (a quarter less MSE
# than adding the same value to R, G and B, i.e. ≈ +1.3 dB PSNR for the same mark).
LUMA_DIRECTION = LUMA / float(LUMA @ LUMA)


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ LUMA


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
    hp = highpass(p.reshape(-1, N, N).transpose(1, 2, 0).astype(np.float32).copy())
    return np.einsum("kp,pk->k", p, hp.reshape(N * N, -1))


def embed(
    rgb: np.ndarray,
    landmarks: np.ndarray,
    region: np.ndarray,
    bits: np.ndarray,
    *,
    passes: int = 3,
    psnr_min: float | None = None,
) -> np.ndarray:
    """Return a copy of ``rgb`` (H×W×3 uint8) carrying the pilot and ``bits`` in the face of ``landmarks``.

    ``region`` (H×W bool) is where pixels may change: the swapped face. Outside it the result is
    bit-identical to ``rgb``.
    """
    rows, cols = np.nonzero(region.any(axis=1))[0], np.nonzero(region.any(axis=0))[0]
    if not len(rows):
        return rgb.copy()
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    # work on the region's bounding box only (a 37 MP photo stays cheap); pixels outside it never change
    full = rgb.copy()
    full[y0:y1, x0:x1] = _embed_box(rgb[y0:y1, x0:x1], crop_matrix(landmarks), (x0, y0), region[y0:y1, x0:x1],
                                    bits, passes, PSNR_MIN if psnr_min is None else psnr_min)
    return full


@cache
def _patterns32() -> np.ndarray:
    """:func:`patterns` in float32, for embedding (every video frame pays for it; detection stays float64)."""
    return np.ascontiguousarray(patterns().astype(np.float32))


def _embed_box(
    rgb: np.ndarray, m_full: np.ndarray, origin: tuple[int, int], region: np.ndarray, bits: np.ndarray,
    passes: int, psnr_min: float,
) -> np.ndarray:
    h, w = rgb.shape[:2]
    p = _patterns32()
    g = pattern_gain()
    m = m_full.copy()
    m[:, 2] = m_full[:, 2] + m_full[:, :2] @ np.array(origin, np.float64)  # box coordinates → crop
    sign = bits.astype(np.float64) * 2 - 1
    reg = region.astype(np.float32)
    gray = np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
    direction = np.ones(3, np.float32) if gray else LUMA_DIRECTION  # a gray result stays gray
    out = rgb
    acc = np.zeros((h, w), np.float32)
    to_rgb = direction.reshape(3, 1).astype(np.float32)  # acc (H×W) → its RGB change (H×W×3), one cv2 pass
    to_luma = LUMA.reshape(1, 3)

    def soft_bits(img: np.ndarray) -> np.ndarray:  # project(luma(img), m), luma in one cv2 pass
        return (p @ highpass(_crop(cv2.transform(img.astype(np.float32), to_luma), m)).ravel()).astype(np.float64)

    u = pilot_direction(luma(rgb), m, p=p)
    gu = float(p[PILOT] @ highpass(u.reshape(N, N)).ravel())
    for _ in range(passes):
        y = soft_bits(out)
        d = np.zeros(len(p), np.float32)
        d_pilot = (PILOT_ALPHA * 1.02 - y[PILOT]) / gu
        need = PAYLOAD_ALPHA * 1.1 - sign * y[PAYLOAD]  # a little over α so rounding keeps the margin
        d[PAYLOAD] = np.where(need > 0, need * sign / g[PAYLOAD], 0.0)
        if abs(d_pilot) < 1.0 and not np.any(d[PAYLOAD]):
            break
        delta = (d @ p + np.float32(d_pilot) * u).reshape(N, N)
        back = cv2.warpAffine(delta, m, (w, h), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        cv2.accumulateProduct(back, reg, acc)  # acc += back · reg
        # rgb + acc·direction, rounded to the nearest integer and saturated to 0–255 (cv2 rounds as np.rint)
        out = cv2.add(rgb, cv2.transform(acc[..., None], to_rgb), dtype=cv2.CV_8U)
    inside = (region != 0).view(np.uint8)
    count = cv2.countNonZero(inside)
    limit = 255.0**2 / 10 ** (psnr_min / 10)
    for _ in range(4):  # keep the promise on invisibility: scale the whole change down (rounding included)
        if not count or out is rgb:
            break
        mse = cv2.norm(out, rgb, cv2.NORM_L2SQR, mask=inside) / (3 * count)  # exact: integer differences
        if mse <= limit:
            break
        acc *= np.float32(np.sqrt(limit / mse) * 0.99)
        out = cv2.add(rgb, cv2.transform(acc[..., None], to_rgb), dtype=cv2.CV_8U)
    return out if out is not rgb else rgb.copy()


def pilot_direction(y: np.ndarray, m: np.ndarray, gamma: float | None = None,
                    p: np.ndarray | None = None) -> np.ndarray:
    """The unit change that raises the pilot: ``P_0 · s^-γ`` (s: the host crop's local rms), made
    orthogonal to the decoys, the payload and the window so that only the pilot's projection moves.
    ``p``: the patterns in the precision wanted (float64 :func:`patterns` by default)."""
    p = patterns() if p is None else p
    gamma = EMBED_GAMMA if gamma is None else gamma
    if not gamma:
        return p[PILOT]
    hp = highpass(_crop(y, m))
    s = np.sqrt(cv2.GaussianBlur(hp * hp, (0, 0), WHITEN_SIGMA) + np.float32(EMBED_FLOOR**2)).astype(p.dtype)
    u = p[PILOT] * s.ravel() ** -gamma
    u -= p[1:].T @ (p[1:] @ u)
    w = window().ravel().astype(p.dtype)
    u -= w * (w @ u) / (w @ w)
    return u / np.linalg.norm(u)


# ---------------------------------------------------------------- detection
@dataclass
class WatermarkHit:
    """One face that carried the mark."""

    face_index: int
    z: float  # pilot projection / rms of the decoy projections (unmarked faces stay well under Z_THRESHOLD)
    strength: float  # pilot projection / PILOT_ALPHA (≈1 on a fresh mark)
    version: int | None = None  # payload, when its CRC checks
    payload_id: int | None = None
    bit_errors: int | None = None  # payload bits corrected by soft decoding

    @property
    def payload(self) -> str:
        if self.payload_id is None:
            return "faceweave watermark (payload unreadable)"
        return f"faceweave watermark v{self.version} id {self.payload_id:05x}"

    @property
    def confidence(self) -> float:
        """1 − (false-positive bound): 0 at the threshold's half, ≈1 well above it."""
        return float(np.clip((self.z - Z_THRESHOLD / 2) / (Z_THRESHOLD / 2), 0.0, 1.0))


def _offset(m: np.ndarray, dx: float, dy: float, ds: float, rot: float = 0.0) -> np.ndarray:
    """Compose a small scale and rotation about the crop centre, then a shift, after ``m``."""
    s = float(np.exp(ds))
    c = N / 2.0
    co, si = s * np.cos(rot), s * np.sin(rot)
    a = np.array([[co, -si, c - co * c + si * c + dx], [si, co, c - si * c - co * c + dy], [0, 0, 1.0]])
    return (a @ np.vstack([m, [0, 0, 1.0]]))[:2]


@cache
def _pattern_spectra(size: int) -> np.ndarray:
    """Conjugate spectra of the pilot and decoys zero-padded to ``size``: correlation at every shift at once."""
    p = patterns()[: 1 + DECOYS].reshape(-1, N, N)
    return np.conj(np.fft.rfft2(p, s=(size, size)))


def _big_crop(y: np.ndarray, m: np.ndarray, r: int) -> np.ndarray:
    size = N + 2 * r
    return highpass(cv2.warpAffine(y, _offset(m, r, r, 0.0), (size, size), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)).astype(np.float64)


def whiten(hp: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """The high-passed crop divided by its local rms: the pilot counts most where the face is smooth.

    The detector's noise is the face's own texture (eyes, brows, beard), which is far from uniform;
    weighting each pixel by the inverse of its local noise level is the matched filter for that.
    """
    s = WHITEN_SIGMA if sigma is None else sigma
    if not s:
        return hp
    hp32 = hp.astype(np.float32)
    var = cv2.GaussianBlur(hp32 * hp32, (0, 0), s)
    floor = np.float32(WHITEN_FLOOR**2)
    return (hp32 / np.sqrt(var + floor)).astype(np.float64)


def pilot_z(big: np.ndarray, r: int) -> np.ndarray:
    """z at every integer shift (2r+1)²: pilot over the rms of the decoys.

    The crop is r pixels larger on each side; circular correlation of that (N+2r)² crop with each
    N² pattern has no wrap-around for the lags 0..2r, so one FFT per pattern gives all shifts.
    """
    size = big.shape[0]
    corr = np.fft.irfft2(np.fft.rfft2(big)[None] * _pattern_spectra(size), s=(size, size))[:, : 2 * r + 1, : 2 * r + 1]
    return corr[0] / np.sqrt(np.mean(corr[1:] ** 2, axis=0) + 1e-9)


def read_face(y: np.ndarray, landmarks: np.ndarray, *, search: bool = True) -> WatermarkHit | None:
    """Look for the mark in one face of a luma image (``face_index`` is left at -1)."""
    r = SEARCH_RADIUS if search else 0
    tries = (list(itertools.product(SEARCH_ANCHORS, SEARCH_ROTATIONS, SEARCH_SCALES, SEARCH_SUBPIXEL)) if search
             else [((0, 1, 2, 3), 0.0, 0.0, (0.0, 0.0))])
    best: tuple[float, np.ndarray] | None = None
    for anchors, rot, ds, (sx, sy) in tries:
        big = _big_crop(y, _offset(crop_matrix(landmarks, anchors=anchors), sx, sy, ds, rot), r)
        z = pilot_z(whiten(big), r)
        k = int(np.argmax(z))
        oy, ox = divmod(k, z.shape[1])
        if best is None or z.flat[k] > best[0]:
            best = (float(z.flat[k]), big[oy:oy + N, ox:ox + N])
    assert best is not None
    if best[0] < Z_THRESHOLD:
        return None
    y_all = patterns() @ best[1].ravel()
    hit = WatermarkHit(-1, best[0], float(y_all[PILOT] / pattern_gain()[PILOT] / PILOT_ALPHA))
    got = chase_decode(y_all[PAYLOAD])
    if got is not None:
        (hit.version, hit.payload_id), hit.bit_errors = got
    return hit


def detect(rgb: np.ndarray, faces: list, *, search: bool = True) -> list[WatermarkHit]:
    """Every face of ``rgb`` (``faces``: its analysed faces, with 68 landmarks) that carries a faceweave mark."""
    y = luma(rgb)
    hits = []
    for f in faces:
        hit = read_face(y, f.landmarks, search=search)
        if hit is not None:
            hit.face_index = f.index
            hits.append(hit)
    return hits


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR (dB) between two uint8 images, over ``mask`` when given."""
    d = a.astype(np.float64) - b.astype(np.float64)
    if mask is not None:
        d = d[mask.astype(bool)]
    mse = float(np.mean(d**2)) if d.size else 0.0
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
