"""Evaluation metrics (docs/design.md §5): pure functions on arrays, no I/O.

- identity distance ‖ê_a − ê_b‖² between dlib 128-D embeddings (RSGAN's OpenFace protocol; 0–4)
  and identity retrieval (is the swap nearer its source than every other identity in the set);
- mean absolute error in [0, 1] and MS-SSIM between two aligned face crops (swap-twice
  consistency, reconstruction);
- head pose (yaw, pitch, roll in degrees) from ``cv2.solvePnP`` on dlib's 68 landmarks against a
  generic 3-D face built from published mean adult face measurements (:data:`FACE_MODEL_3D`);
- success rate.

Aligned crops are CelebA's 178×218 template (:func:`faceweave.analysis.align.align_face`). Its short
side, 178 px, is above the 161 px that MS-SSIM's default five scales with an 11-px window need
(the image is halved four times: 178 → 11 px at the coarsest scale), so the standard five scales,
window and weights of Wang et al. (2003) are used unchanged. Smaller images (e.g. RSGAN's 128×128
crops) keep the five scales and weights with a smaller window (:func:`ms_ssim`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import cv2
import numpy as np

from faceweave.analysis.align import align_face
from faceweave.analysis.identity import identity_distance  # the one definition, re-exported
from faceweave.analysis.template import CELEBA_SIZE

log = logging.getLogger(__name__)

__all__ = [
    "CROP_SIZE",
    "FACE_MODEL_3D",
    "MSSSIM_WEIGHTS",
    "abs_error",
    "aligned_pair",
    "euler_from_rotation",
    "head_pose",
    "identity_distance",
    "identity_retrieved",
    "ms_ssim",
    "pose_difference",
    "success_rate",
    "summarize",
]

CROP_SIZE: tuple[int, int] = CELEBA_SIZE  # (width, height) of the aligned face crop the image metrics use
MSSSIM_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003
MSSSIM_WIN = 11


# ---------------------------------------------------------------------------------------------- identity


def identity_retrieved(swap_emb: np.ndarray, source_emb: np.ndarray, others: Sequence[np.ndarray]) -> bool:
    """True when the swap is nearer its source than every embedding of every *other* identity.

    ``others`` are the embeddings of all photos in the set whose identity differs from the source's
    (the target's identity among them). With no other identity the answer is trivially True.
    """
    d_src = identity_distance(swap_emb, source_emb)
    return all(d_src < identity_distance(swap_emb, o) for o in others)


# ------------------------------------------------------------------------------------ image comparisons


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected H×W×3 images, got {a.shape}")


def abs_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 RGB images, scaled to [0, 1] (RSGAN Table 1 "Abs. Errors")."""
    _check_pair(a, b)
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))) / 255.0)


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Multi-scale SSIM of two uint8 RGB images (1 = identical), with ``pytorch_msssim``.

    Five scales with Wang et al.'s weights and an 11-px Gaussian window (σ 1.5) need a short side
    > (11 − 1)·2⁴ = 160 px, which the default 178×218 crop has. Smaller images keep the five scales
    and the weights but use the largest odd window that fits (short side > (win − 1)·16), so the
    coarsest scale still has a whole window; below 33 px there is no such window and this raises.
    """
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    _check_pair(a, b)
    short = min(a.shape[:2])
    win = MSSSIM_WIN
    while win > 3 and short <= (win - 1) * 16:
        win -= 2
    if short <= (win - 1) * 16:
        raise ValueError(f"image too small for 5-scale MS-SSIM ({short} px; need more than 32 px)")
    if win != MSSSIM_WIN:
        log.debug("ms_ssim: %d px short side, window %d instead of %d", short, win, MSSSIM_WIN)
    ta = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].double()
    tb = torch.from_numpy(np.ascontiguousarray(b)).permute(2, 0, 1)[None].double()
    with torch.no_grad():
        v = _ms_ssim(ta, tb, data_range=255.0, size_average=True, win_size=win, weights=list(MSSSIM_WEIGHTS))
    return float(v)


def aligned_pair(
    reference: np.ndarray, other: np.ndarray, landmarks: np.ndarray, size: tuple[int, int] = CROP_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """The same aligned face crop cut from two images of the same geometry.

    Both crops use the alignment of ``reference``'s landmarks, so a pixel of one crop corresponds
    to the same photo pixel in the other (no landmark noise enters the comparison).
    """
    if reference.shape != other.shape:
        raise ValueError(f"images differ in shape: {reference.shape} vs {other.shape}")
    crop_ref, m = align_face(reference, landmarks, size)
    crop_other = cv2.warpAffine(other, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop_ref, crop_other


# ---------------------------------------------------------------------------------------------- pose

# A generic adult face in millimetres, one 3-D point per dlib landmark (iBUG 300-W order).
# Axes follow OpenCV's camera frame for a face looking straight at the camera: x to the image right
# (the subject's left), y down, z away from the camera; origin at the nose tip (pronasale, point 30).
# Widths and heights are rounded mean adult values from Farkas' craniofacial norms (Farkas, 1994,
# "Anthropometry of the Head and Face"; sexes averaged): biocular width ex–ex ≈ 90, intercanthal
# en–en ≈ 32, nose width al–al ≈ 34, mouth width ch–ch ≈ 50, nasal height n–sn ≈ 50, upper lip
# sn–sto ≈ 22, lower face sn–gn ≈ 70, face width at the cheeks ≈ 135, jaw width go–go ≈ 95,
# brow ≈ 13 above the eye line. Depths (z) are coarser estimates from the same norms' profile
# measurements (nasal tip protrusion sn–prn ≈ 18, eyes ≈ 25–38 behind the tip, cheek silhouette
# ≈ 80 behind it). The model is exactly mirror-symmetric, so a mirrored face gives the mirrored pose.
_HALF: dict[int, tuple[float, float, float]] = {
    # jaw line 0–8 (image-left half, subject's right), silhouette points
    0: (-68.0, -25.0, 85.0), 1: (-67.0, -9.0, 83.0), 2: (-65.0, 7.0, 80.0), 3: (-62.0, 23.0, 75.0),
    4: (-57.0, 38.0, 68.0), 5: (-48.0, 51.0, 58.0), 6: (-37.0, 62.0, 46.0), 7: (-20.0, 71.0, 35.0),
    # right brow 17–21 (outer → inner)
    17: (-52.0, -46.0, 42.0), 18: (-42.0, -52.0, 32.0), 19: (-31.0, -54.0, 26.0), 20: (-20.0, -53.0, 22.0),
    21: (-10.0, -50.0, 21.0),
    # nose: alae and nostrils 31–32
    31: (-13.0, 4.0, 20.0), 32: (-7.0, 6.0, 17.0),
    # right eye 36–41: outer corner, upper lid ×2, inner corner, lower lid ×2
    36: (-45.0, -33.0, 38.0), 37: (-36.0, -37.5, 30.0), 38: (-25.0, -37.5, 28.0), 39: (-16.0, -33.0, 28.0),
    40: (-25.0, -29.0, 29.0), 41: (-36.0, -29.0, 31.0),
    # outer lips, right half: corner 48, upper 49–50, lower 58–59
    48: (-25.0, 28.0, 28.0), 49: (-17.0, 22.0, 20.0), 50: (-7.0, 19.0, 15.0),
    58: (-8.0, 38.0, 17.0), 59: (-17.0, 35.0, 21.0),
    # inner lips, right half
    60: (-21.0, 28.0, 26.0), 61: (-8.0, 27.0, 17.0), 67: (-8.0, 29.0, 17.0),
}
_MIDLINE: dict[int, tuple[float, float, float]] = {
    8: (0.0, 76.0, 30.0),  # menton / gnathion
    27: (0.0, -45.0, 20.0),  # nasion
    28: (0.0, -30.0, 13.0),
    29: (0.0, -15.0, 6.5),
    30: (0.0, 0.0, 0.0),  # pronasale (nose tip)
    33: (0.0, 7.0, 16.0),  # subnasale
    51: (0.0, 20.0, 14.0),  # labrale superius
    57: (0.0, 39.0, 16.0),  # labrale inferius
    62: (0.0, 27.0, 16.0),
    66: (0.0, 29.0, 16.0),
}
# dlib index of each image-left point's mirror twin.
_MIRROR: dict[int, int] = {
    **{i: 16 - i for i in range(0, 8)},
    **{i: 43 - i for i in range(17, 22)},
    31: 35, 32: 34,
    36: 45, 37: 44, 38: 43, 39: 42, 40: 47, 41: 46,
    48: 54, 49: 53, 50: 52, 58: 56, 59: 55,
    60: 64, 61: 63, 67: 65,
}


def _build_model() -> np.ndarray:
    pts = np.full((68, 3), np.nan)
    for i, p in _MIDLINE.items():
        pts[i] = p
    for i, (x, y, z) in _HALF.items():
        pts[i] = (x, y, z)
        pts[_MIRROR[i]] = (-x, y, z)
    assert not np.isnan(pts).any(), "generic face model incomplete"
    return pts


FACE_MODEL_3D: np.ndarray = _build_model()
# Points used for the fit: the rigid ones (eye corners and lids, nose, brows' inner ends, outer lip
# corners and upper lip, chin and the jaw line). The inner lips and the lower lip move too much with
# expression to pin the head's pose; the outer brows lift with surprise.
POSE_POINTS: tuple[int, ...] = tuple(
    [*range(0, 17), 19, 20, 21, 22, 23, 24, *range(27, 36), *range(36, 48), 48, 49, 50, 51, 52, 53, 54]
)


def euler_from_rotation(r: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation matrix R = Rz(roll)·Ry(yaw)·Rx(pitch).

    In the model frame above: yaw turns about the vertical (y) axis, pitch nods about x, roll tilts
    about the viewing axis; (0, 0, 0) is a face looking straight at the camera.
    """
    r = np.asarray(r, np.float64)
    yaw = math.degrees(math.asin(float(np.clip(-r[2, 0], -1.0, 1.0))))
    pitch = math.degrees(math.atan2(r[2, 1], r[2, 2]))
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    return yaw, pitch, roll


def head_pose(landmarks: np.ndarray, image_size: tuple[int, int]) -> tuple[float, float, float]:
    """Head pose (yaw, pitch, roll) in degrees from dlib's 68 landmarks by ``cv2.solvePnP``.

    ``image_size`` is (width, height). The camera is a generic one: focal length = the larger image
    side (≈ 53° field of view), principal point at the centre, no distortion. EPnP gives the start,
    Levenberg–Marquardt refines it. Signs: positive yaw = the face turned toward the image's left,
    positive pitch = chin down, positive roll = the head tilted clockwise in the image. A mirrored
    photo gives (−yaw, pitch, −roll).
    """
    lm = np.asarray(landmarks, np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"expected 68×2 landmarks, got {lm.shape}")
    w, h = image_size
    f = float(max(w, h))
    cam = np.array([[f, 0.0, w / 2.0], [0.0, f, h / 2.0], [0.0, 0.0, 1.0]])
    idx = list(POSE_POINTS)
    obj = FACE_MODEL_3D[idx].astype(np.float64)
    img = lm[idx].astype(np.float64)
    ok, rvec, tvec = cv2.solvePnP(obj, img, cam, None, flags=cv2.SOLVEPNP_EPNP)
    if not ok or float(tvec[2, 0]) <= 0:
        rvec, tvec = np.zeros((3, 1)), np.array([[0.0], [0.0], [f * 0.15]])  # frontal, ~face-sized distance
    ok, rvec, tvec = cv2.solvePnP(obj, img, cam, None, rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        raise ValueError("solvePnP failed on these landmarks")
    rot, _ = cv2.Rodrigues(rvec)
    return euler_from_rotation(rot)


def pose_difference(a: tuple[float, float, float], b: tuple[float, float, float]) -> tuple[float, float, float]:
    """Absolute per-angle difference in degrees, wrapped to [0, 180]."""
    out = []
    for x, y in zip(a, b, strict=True):
        d = abs((x - y + 180.0) % 360.0 - 180.0)
        out.append(d)
    return out[0], out[1], out[2]


# ---------------------------------------------------------------------------------------------- summary


def net_scores(rgb: np.ndarray, landmarks: np.ndarray, with_512: bool = False) -> tuple[np.ndarray, ...]:
    """The frozen nets' view of one face: ([512-D embedding,] 192-D embedding, (3,) Hopenet yaw/pitch/roll °).

    The 512-D net is the one learned engines may train with; the 192-D MobileFaceNet and dlib stay
    independent judges (DESIGN.md §3). Pose error follows FaceShifter: the L2 distance between the
    (yaw, pitch, roll) vectors of swap and target, here from the Hopenet pose net.
    """
    from faceweave.nets.infer import head_pose, identity_embeddings

    e192 = identity_embeddings(rgb, landmarks, "mobilefacenet192")[0]
    pose = head_pose(rgb, landmarks)[0]
    if with_512:
        return identity_embeddings(rgb, landmarks, "identity512")[0], e192, pose
    return e192, pose


def success_rate(succeeded: int, attempted: int) -> float:
    """Pairs that produced an output / pairs attempted (NaN when nothing was attempted)."""
    return float(succeeded) / attempted if attempted else float("nan")


def summarize(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Mean, population std (as Table 1), min, max and count of the finite values; None when empty."""
    v = np.array([x for x in values if x is not None and math.isfinite(x)], np.float64)
    if len(v) == 0:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    return {
        "mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max()), "n": int(len(v))
    }


def expression_difference(a: np.ndarray, b: np.ndarray) -> float:
    """|Δ eye aspect ratio| + |Δ inner-mouth aspect ratio| between two sets of 68 landmarks (DESIGN §5)."""

    def ratios(lm: np.ndarray) -> tuple[float, float]:
        p = np.asarray(lm, np.float64)

        def ear(o: int) -> float:  # o = 36 (right eye) or 42 (left eye)
            v = np.linalg.norm(p[o + 1] - p[o + 5]) + np.linalg.norm(p[o + 2] - p[o + 4])
            return float(v / (2 * np.linalg.norm(p[o] - p[o + 3]) + 1e-9))

        gaps = [np.linalg.norm(p[61] - p[67]), np.linalg.norm(p[62] - p[66]), np.linalg.norm(p[63] - p[65])]
        return (ear(36) + ear(42)) / 2, float(np.mean(gaps) / (np.linalg.norm(p[60] - p[64]) + 1e-9))

    (ea, ma), (eb, mb) = ratios(a), ratios(b)
    return abs(ea - eb) + abs(ma - mb)


# --------------------------------------------------------------------------- colour error and seams
def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB uint8 (or float in [0, 1]) → CIE L*a*b* (D65), float64, L in [0, 100]."""
    f = rgb.astype(np.float32) / 255.0 if rgb.dtype == np.uint8 else rgb.astype(np.float32)
    return cv2.cvtColor(f, cv2.COLOR_RGB2Lab).astype(np.float64)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference ΔE₀₀ per pixel (Sharma, Wu & Dalal 2005, kL = kC = kH = 1)."""
    L1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    L2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    h1p = np.where(c1p == 0, 0.0, h1p)
    h2p = np.where(c2p == 0, 0.0, h2p)
    dL = L2 - L1
    dC = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dH = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)
    L_bar = (L1 + L2) / 2
    cp_bar = (c1p + c2p) / 2
    hsum = h1p + h2p
    h_bar = np.where(np.abs(h1p - h2p) > 180, np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2), hsum / 2)
    h_bar = np.where(c1p * c2p == 0, hsum, h_bar)
    t = (1 - 0.17 * np.cos(np.radians(h_bar - 30)) + 0.24 * np.cos(np.radians(2 * h_bar))
         + 0.32 * np.cos(np.radians(3 * h_bar + 6)) - 0.20 * np.cos(np.radians(4 * h_bar - 63)))
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    rc = 2 * np.sqrt(cp_bar**7 / (cp_bar**7 + 25.0**7))
    sl = 1 + 0.015 * (L_bar - 50) ** 2 / np.sqrt(20 + (L_bar - 50) ** 2)
    sc = 1 + 0.045 * cp_bar
    sh = 1 + 0.015 * cp_bar * t
    rt = -np.sin(np.radians(2 * d_theta)) * rc
    return np.sqrt((dL / sl) ** 2 + (dC / sc) ** 2 + (dH / sh) ** 2 + rt * (dC / sc) * (dH / sh))


def mean_ciede2000(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    """Mean ΔE₀₀ between two RGB images over the pixels where ``region`` > 0.5."""
    sel = region > 0.5
    if not sel.any():
        raise ValueError("empty region")
    return float(ciede2000(rgb_to_lab(a)[sel], rgb_to_lab(b)[sel]).mean())


def seam_band(mask: np.ndarray, width: int = 3) -> np.ndarray:
    """Boolean band of ±``width`` px around the mask's 0.5 contour (where a blend seam lies)."""
    m = (mask > 0.5).astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    return (cv2.dilate(m, k) - cv2.erode(m, k)) > 0


def seam_gradient_energy(rgb: np.ndarray, band: np.ndarray) -> float:
    """Mean squared gradient magnitude of L* (Sobel, per px) over ``band``: how visible an edge is there."""
    lum = rgb_to_lab(rgb)[..., 0].astype(np.float32)
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3) / 8
    return float((gx**2 + gy**2)[band].mean())
