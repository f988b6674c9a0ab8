"""RSGAN's applications on any photo (Natsume et al. 2018, sec. 3.3 and 4): swap, edit, random parts, interpolation.

Every operation follows the same three steps:

1. **prepare** — the face is aligned to CelebA's 178×218 template (:func:`faceweave.analysis.align.align_face`),
   then cut to the *hair-crop frame* the model works in (the 178×178 box at (0, 20), resized to the
   model's ``image_size``), exactly as the training set was built (:mod:`faceweave.data.builder`).
   :class:`AlignedFace` keeps that crop, the 2×3 matrix from the photo to it, and the RSGAN face
   mask (hull of landmarks 27–67 stretched 1.3×/1.4×) in the same frame.
2. **latents** — the four posterior means (z_xf, z_cf, z_xh, z_ch) are computed with the classifier's
   c* (never labels), mixed, edited, sampled or interpolated, and decoded by the composer G.
3. **paste back** — the generated crop is warped back into the photo with the inverse matrix and
   blended only inside a feathered region (the face mask, or the head/hair region); RSGAN-GD composes
   the face-mask region in the gradient domain (Poisson, :func:`faceweave.compose.blend.poisson_blend`).

Regions in the model frame: ``face`` is the RSGAN face mask; ``hair`` is the head (person mask from
mediapipe's selfie segmentation on the aligned crop, grown a little so new hair has room) minus the
face; ``both`` is their union. All of them fade to 0 at the edge of the frame, so nothing outside
the model's frame ever changes.

Latent values are posterior *means* (deterministic): the same photo always gives the same result.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import torch

from faceweave.analysis.align import align_face, transform_points
from faceweave.analysis.face import Face
from faceweave.analysis.masks import rsgan_face_mask
from faceweave.analysis.template import CELEBA_SIZE as TEMPLATE_SIZE
from faceweave.analysis.template import RSGAN_HAIR_BOX as HAIR_BOX
from faceweave.analysis.template import RSGAN_MASK_STRETCH as STRETCH
from faceweave.compose.blend import blend as _blend
from faceweave.compose.colour import transfer_colour
from faceweave.errors import FaceweaveError
from faceweave.models.rsgan import RSGAN

log = logging.getLogger(__name__)

Region = Literal["face", "hair", "both"]
REGIONS: tuple[str, ...] = ("face", "hair", "both")
FACE_KEYS = ("xf", "cf")
HAIR_KEYS = ("xh", "ch")
CHECKPOINT_ENV = "FACEWEAVE_RSGAN_CHECKPOINT"
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "rsgan_demo.safetensors"
TILE_SIZE = 160  # side of one contact-sheet tile (the head frame of a result photo)


# ------------------------------------------------------------------------------------------ model
def default_checkpoint() -> Path:
    """The shipped demo weights (or ``$FACEWEAVE_RSGAN_CHECKPOINT`` when set); a clear error if missing."""
    env = os.environ.get(CHECKPOINT_ENV)
    path = Path(env) if env else DEFAULT_WEIGHTS
    if not path.exists():
        where = f"${CHECKPOINT_ENV}={env}" if env else str(path)
        raise FaceweaveError(
            f"no RSGAN weights at {where}; train some with `faceweave train rsgan` and pass --checkpoint PATH"
        )
    return path


_MODELS: dict[tuple[str, float], RSGAN] = {}
_LOCK = threading.Lock()


def load_model(checkpoint: str | os.PathLike[str] | None = None) -> RSGAN:
    """The RSGAN of ``checkpoint`` (default :func:`default_checkpoint`), in eval mode, cached per file and mtime.

    ``checkpoint`` may be a ``save_pretrained`` folder, a lone ``.safetensors`` file, or a training
    run folder (its ``checkpoints/latest`` is used).
    """
    path = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    path = _resolve_run(path)
    if not path.exists():
        raise FaceweaveError(f"--checkpoint {path}: no such file or folder")
    key = (str(path.resolve()), path.stat().st_mtime)
    with _LOCK:
        model = _MODELS.get(key)
        if model is None:
            model = RSGAN.from_pretrained(path).eval()
            for p in model.parameters():
                p.requires_grad_(False)
            _MODELS.clear()  # one model at a time: a new checkpoint replaces the old one
            _MODELS[key] = model
            log.info("loaded RSGAN %s (%d px, attributes %s)", path, model.config.image_size,
                     model.config.attribute_names)
    return model


def _resolve_run(path: Path) -> Path:
    """A training run folder (or its ``checkpoints`` folder) → its latest checkpoint; anything else unchanged."""
    from faceweave.train.checkpoint import latest_checkpoint

    if not path.is_dir() or (path / "model.safetensors").exists():
        return path
    for d in (path / "checkpoints", path):
        found = latest_checkpoint(d) if d.is_dir() else None
        if found is not None:
            return found
    return path


# ------------------------------------------------------------------------------------------ attributes
def parse_assignments(items: Iterable[str] | Mapping[str, object] | None) -> dict[str, float]:
    """``["Smiling=1", "Eyeglasses=0.5"]`` (or a mapping) → ``{"Smiling": 1.0, ...}``; values must be in [0, 1]."""
    if not items:
        return {}
    pairs: list[tuple[str, object]] = []
    if isinstance(items, Mapping):
        pairs = list(items.items())
    else:
        for it in items:
            name, sep, value = str(it).partition("=")
            if not sep or not name.strip():
                raise FaceweaveError(f"--set {it!r}: expected ATTRIBUTE=VALUE, e.g. Smiling=1")
            pairs.append((name.strip(), value.strip()))
    out: dict[str, float] = {}
    for name, value in pairs:
        try:
            v = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise FaceweaveError(f"--set {name}={value}: the value must be a number between 0 and 1") from None
        if not 0.0 <= v <= 1.0 or v != v:
            raise FaceweaveError(f"--set {name}={value}: the value must be between 0 and 1")
        out[str(name)] = v
    return out


def resolve_attributes(names: Sequence[str], values: Mapping[str, float]) -> dict[int, float]:
    """Attribute name → index in the model's c (case-insensitive); unknown names fail listing the valid ones."""
    if values and not names:
        raise FaceweaveError("this RSGAN checkpoint was trained without attributes, so none can be set")
    lower = {n.lower(): i for i, n in enumerate(names)}
    out: dict[int, float] = {}
    for name, v in values.items():
        i = lower.get(name.lower())
        if i is None:
            raise FaceweaveError(f"unknown attribute {name!r}; this checkpoint knows: {', '.join(names)}")
        out[i] = float(v)
    return out


def apply_attributes(c: torch.Tensor, overrides: Mapping[int, float]) -> torch.Tensor:
    """A copy of ``c`` ([B, A]) with the given columns set."""
    c2 = c.clone()
    for i, v in overrides.items():
        c2[:, i] = v
    return c2


# ------------------------------------------------------------------------------------------ prepare
@dataclass
class AlignedFace:
    """One face of a photo in the model's frame (see the module docstring)."""

    crop: np.ndarray  # S×S×3 uint8: the model's input x
    matrix: np.ndarray  # 2×3 float64, photo pixels → crop pixels
    face_mask: np.ndarray  # S×S float32 0/1: RSGAN face mask in the crop frame
    landmarks: np.ndarray  # 68×2 in the crop frame
    aligned: np.ndarray = field(repr=False)  # the 218×178 CelebA-template image (for the person mask)
    photo_shape: tuple[int, int] = (0, 0)  # (H, W) of the photo
    _person: np.ndarray | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return int(self.crop.shape[0])

    def person(self) -> np.ndarray:
        """Person mask (S×S float32 0/1) in the crop frame, computed once (mediapipe selfie segmentation)."""
        if self._person is None:
            from faceweave.analysis.masks import person_mask

            pm = person_mask(self.aligned, threshold=None)
            hx, hy, hw, hh = HAIR_BOX
            pm = cv2.resize(pm[hy : hy + hh, hx : hx + hw], (self.size, self.size), interpolation=cv2.INTER_AREA)
            self._person = (pm >= 0.5).astype(np.float32)
        return self._person


def frame_matrix(size: int) -> np.ndarray:
    """2×3 matrix: CelebA template pixels → the hair-crop frame resized to ``size`` (pixel centres kept)."""
    x0, y0, w, _ = HAIR_BOX
    s = size / w
    return np.array([[s, 0.0, (0.5 - x0) * s - 0.5], [0.0, s, (0.5 - y0) * s - 0.5]])


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2×3 matrix of ``outer ∘ inner``."""
    a = np.vstack([outer, [0.0, 0.0, 1.0]]) @ np.vstack([inner, [0.0, 0.0, 1.0]])
    return a[:2]


def prepare(rgb: np.ndarray, face: Face, size: int) -> AlignedFace:
    """Align ``face`` of ``rgb`` to the model's frame, as the dataset builder does for training samples."""
    aligned, m = align_face(rgb, face.landmarks, TEMPLATE_SIZE)
    hx, hy, hw, hh = HAIR_BOX
    region = aligned[hy : hy + hh, hx : hx + hw]
    interp = cv2.INTER_AREA if size < hw else cv2.INTER_LINEAR
    crop = np.ascontiguousarray(cv2.resize(region, (size, size), interpolation=interp))
    full = compose_affine(frame_matrix(size), m)
    lm = transform_points(face.landmarks, full)
    mask = rsgan_face_mask((size, size), lm, *STRETCH)
    return AlignedFace(crop=crop, matrix=full, face_mask=mask, landmarks=lm, aligned=aligned,
                       photo_shape=(int(rgb.shape[0]), int(rgb.shape[1])))


# ------------------------------------------------------------------------------------------ masks (model frame)
def edge_fade(size: int, width: float = 0.06) -> np.ndarray:
    """S×S ramp: 0 on the frame border, 1 from ``width``·S inwards."""
    d = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32)
    r = np.clip(d / max(width * size, 1.0), 0.0, 1.0)
    return np.minimum(r[:, None], r[None, :])


def _disk(radius: int) -> np.ndarray:
    r = max(int(radius), 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def region_mask(aligned: AlignedFace, region: str) -> np.ndarray:
    """Where a result may change the photo (S×S float32 in [0, 1], hard-edged; feathered by :func:`paste_back`)."""
    s = aligned.size
    face = aligned.face_mask
    if region == "face":
        m = face
    elif region in ("hair", "both"):
        head = cv2.dilate(aligned.person(), _disk(round(0.06 * s)))
        m = np.maximum(head, face) if region == "both" else head * (1.0 - cv2.erode(face, _disk(round(0.02 * s))))
    else:
        raise FaceweaveError(f"unknown region {region!r} (choose from {', '.join(REGIONS)})")
    return (m * edge_fade(s)).astype(np.float32)


def crop_region_masks(aligned: AlignedFace, margin: float = 0.04) -> tuple[np.ndarray, np.ndarray]:
    """(face, rest) boolean masks of the crop for measuring: the face mask eroded, and all outside it dilated.

    A small margin on both sides of the mask edge is left out so the measure does not depend on how
    sharply the generator draws the boundary.
    """
    k = _disk(round(margin * aligned.size))
    face = cv2.erode(aligned.face_mask, k) > 0.5
    rest = cv2.dilate(aligned.face_mask, k) < 0.5
    return face, rest


# ------------------------------------------------------------------------------------------ latents
@dataclass
class Latents:
    """Posterior means of the four encoders and the classifier's c*, for a batch of crops."""

    z: dict[str, torch.Tensor]
    c: torch.Tensor

    def take(self, i: int, n: int = 1) -> Latents:
        """Row ``i`` repeated ``n`` times."""
        return Latents({k: v[i : i + 1].expand(n, -1).clone() for k, v in self.z.items()},
                       self.c[i : i + 1].expand(n, -1).clone())


def to_tensor(crops: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 S×S×3 crops → [B, 3, S, S] in [-1, 1]."""
    a = np.stack([np.asarray(c) for c in crops]).astype(np.float32) / 255.0
    return RSGAN.to_model_range(torch.from_numpy(a).permute(0, 3, 1, 2).contiguous())


def to_uint8(x: torch.Tensor) -> list[np.ndarray]:
    """[B, 3, S, S] in [-1, 1] → uint8 S×S×3 crops."""
    a = RSGAN.from_model_range(x.detach().float()).permute(0, 2, 3, 1).cpu().numpy()
    return [np.ascontiguousarray(np.clip(v * 255.0 + 0.5, 0, 255).astype(np.uint8)) for v in a]


@torch.no_grad()
def encode(model: RSGAN, crops: Sequence[np.ndarray]) -> Latents:
    """Posterior means with c = c* (the classifier's attributes), as the paper does at test time."""
    x = to_tensor(crops)
    c = model.classify(x)
    return Latents(z=dict(model.encode(x, c).mu), c=c)


@torch.no_grad()
def attribute_latents(model: RSGAN, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(μ_cf, μ_ch) of an attribute vector ``c``."""
    return model.enc_cf(c)[0], model.enc_ch(c)[0]


@torch.no_grad()
def generate(model: RSGAN, z: Mapping[str, torch.Tensor]) -> list[np.ndarray]:
    """G(z_xf, z_cf, z_xh, z_ch) as uint8 crops."""
    return to_uint8(model.compose(z["xf"], z["cf"], z["xh"], z["ch"]))


def mix(face_from: Latents, hair_from: Latents) -> dict[str, torch.Tensor]:
    """Face latents of one, hair latents of the other (the paper's swap)."""
    return {"xf": face_from.z["xf"], "cf": face_from.z["cf"], "xh": hair_from.z["xh"], "ch": hair_from.z["ch"]}


def region_swap_distances(model: RSGAN, a: AlignedFace, b: AlignedFace) -> dict[tuple[str, str], dict[str, float]]:
    """How well the latents separate face from hair, for one ordered pair (a diagnostic).

    Two latent swaps are drawn: ``hair_swapped`` (a's face latents, b's hair latents) and ``face_swapped``
    (b's face latents, a's hair latents). For each, and for each region (``face``: both face masks,
    eroded; ``rest``: outside both, dilated — :func:`crop_region_masks`), the mean absolute difference
    in grey levels to the generator's reconstructions of a (``"A"``) and b (``"B"``) is returned, keyed
    ``(swap, region) → {"A": ..., "B": ...}``. A separating model gives, e.g., a hair-swapped face
    region nearer A and its rest nearer B. Reconstructions, not the photos, are the reference, so the
    measure asks "which image does this region come from" and not "how sharp is the generator".
    """
    lat = encode(model, [a.crop, b.crop])
    la, lb = lat.take(0), lat.take(1)
    rec = {"A": generate(model, la.z)[0], "B": generate(model, lb.z)[0]}
    fa, ra = crop_region_masks(a)
    fb, rb = crop_region_masks(b)
    sel = {"face": fa & fb, "rest": ra & rb}
    out = {"hair_swapped": generate(model, mix(la, lb))[0], "face_swapped": generate(model, mix(lb, la))[0]}
    return {
        (k, r): {w: float(np.abs(img.astype(np.float32) - rec[w].astype(np.float32))[sel[r]].mean()) for w in "AB"}
        for k, img in out.items()
        for r in sel
    }


# question → (swap, region, the photo that region should be nearer), for :func:`region_separation_votes`
SEPARATION_QUESTIONS: dict[str, tuple[str, str, str]] = {
    "hair_rest": ("hair_swapped", "rest", "B"),  # hair-only swap: the rest comes from B
    "hair_face": ("hair_swapped", "face", "A"),  # hair-only swap: the face stays A's
    "face_rest": ("face_swapped", "rest", "A"),  # face-only swap: the rest stays A's
    "face_face": ("face_swapped", "face", "B"),  # face-only swap: the face comes from B
}


def region_separation_votes(model: RSGAN, faces: Sequence[AlignedFace]) -> dict[str, list[bool]]:
    """For every ordered pair (A, B) of ``faces``, the answer to each of :data:`SEPARATION_QUESTIONS`
    (is that region of that latent swap nearer the photo it should come from?), by
    :func:`region_swap_distances`. Lists are in ``itertools.permutations`` order."""
    votes: dict[str, list[bool]] = {q: [] for q in SEPARATION_QUESTIONS}
    for a, b in itertools.permutations(faces, 2):
        d = region_swap_distances(model, a, b)
        for q, (swap, region, want) in SEPARATION_QUESTIONS.items():
            other = "A" if want == "B" else "B"
            votes[q].append(d[swap, region][want] < d[swap, region][other])
    return votes


@torch.no_grad()
def edited_latents(model: RSGAN, lat: Latents, overrides: Mapping[int, float], region: str) -> dict[str, torch.Tensor]:
    """Latents with c* replaced by ``overrides`` in the attribute latent(s) of ``region`` only.

    The appearance latents keep the encoding under the photo's own c* (the conditional VAE's split:
    z_x holds what c does not), so only z_cf and/or z_ch are re-encoded.
    """
    if region not in REGIONS:
        raise FaceweaveError(f"unknown region {region!r} (choose from {', '.join(REGIONS)})")
    cf, ch = attribute_latents(model, apply_attributes(lat.c, overrides))
    z = dict(lat.z)
    if region in ("face", "both"):
        z["cf"] = cf
    if region in ("hair", "both"):
        z["ch"] = ch
    return z


@torch.no_grad()
def sampled_latents(model: RSGAN, lat: Latents, random: str, n: int, seed: int | None) -> dict[str, torch.Tensor]:
    """``n`` latents keeping one region of ``lat`` (row 0) and drawing the other region's two latents from N(0, I)."""
    if random not in ("face", "hair"):
        raise FaceweaveError(f"--random {random!r}: choose face or hair")
    g = torch.Generator().manual_seed(int(seed) if seed is not None else int.from_bytes(os.urandom(4), "little"))
    prior = model.sample_prior(n, device="cpu", generator=g)
    z = lat.take(0, n).z
    for k in FACE_KEYS if random == "face" else HAIR_KEYS:
        z[k] = prior[k]
    return z


def part_keys(part: str) -> tuple[str, ...]:
    if part == "face":
        return FACE_KEYS
    if part == "hair":
        return HAIR_KEYS
    if part == "both":
        return FACE_KEYS + HAIR_KEYS
    raise FaceweaveError(f"unknown part {part!r} (choose from {', '.join(REGIONS)})")


def interpolated_latents(a: Latents, b: Latents, part: str, steps: int) -> dict[str, torch.Tensor]:
    """``steps`` latents from A to B (both ends included), moving only the latents of ``part``."""
    if steps < 2:
        raise FaceweaveError(f"--steps {steps}: need at least 2 (the two ends)")
    keys = part_keys(part)
    t = torch.linspace(0.0, 1.0, steps)[:, None]
    z = a.take(0, steps).z
    for k in keys:
        za, zb = a.z[k][0:1], b.z[k][0:1]
        z[k] = za + t * (zb - za)
    return z


# ------------------------------------------------------------------------------------------ paste back
def photo_box(aligned: AlignedFace, pad: int = 2) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the model frame's footprint in the photo, clipped; ``None`` if off the photo."""
    s = aligned.size
    inv = cv2.invertAffineTransform(aligned.matrix)
    corners = np.array([[-0.5, -0.5], [s - 0.5, -0.5], [-0.5, s - 0.5], [s - 0.5, s - 0.5]])
    pts = transform_points(corners, inv)
    h, w = aligned.photo_shape
    x0, y0 = np.floor(pts.min(0)).astype(int) - pad
    x1, y1 = np.ceil(pts.max(0)).astype(int) + pad
    x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def feather_mask(mask: np.ndarray, radius: float) -> np.ndarray:
    """Soft edge inside the mask: erode by ``radius``, blur, and never exceed the mask itself."""
    r = max(int(round(radius)), 1)
    m = mask.astype(np.float32)
    soft = cv2.GaussianBlur(cv2.erode(m, _disk(r)), (0, 0), sigmaX=r / 2 + 0.5)
    return np.clip(np.minimum(soft, m), 0.0, 1.0)


def _roi_matrix(matrix: np.ndarray, x0: int, y0: int) -> np.ndarray:
    m = matrix.copy()
    m[:, 2] = matrix[:, 2] + matrix[:, :2] @ np.array([x0, y0], np.float64)
    return m


def warp_to_photo(img: np.ndarray, aligned: AlignedFace, box: tuple[int, int, int, int], border: int) -> np.ndarray:
    """A crop-frame image warped into the photo's ``box`` (inverse of the alignment)."""
    x0, y0, x1, y1 = box
    m = _roi_matrix(aligned.matrix, x0, y0)
    return cv2.warpAffine(img, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=border, borderValue=0)


def paste_back(
    photo: np.ndarray,
    generated: np.ndarray,
    aligned: AlignedFace,
    region: np.ndarray,
    mode: str = "multiband",
    gd: bool = False,
    colour: bool = False,
    base: np.ndarray | None = None,
) -> np.ndarray:
    """The common compose step: put a generated crop back into the photo, only inside ``region``.

    ``region`` (S×S in [0, 1], crop frame) is feathered and warped to the photo with the inverse
    alignment. ``colour`` matches the generated pixels' L*a*b* statistics inside the region to the
    photo's. ``base`` (the generator's reconstruction of the unedited latents) switches to a residual
    paste: the photo gets ``generated − base`` added, so the photo's own detail survives where the
    edit changed nothing. ``gd`` composes in the gradient domain (Poisson), as RSGAN-GD does;
    otherwise ``mode`` (alpha, multiband, poisson) is used. Pixels outside the frame never change.
    """
    box = photo_box(aligned)
    if box is None:
        return photo.copy()
    x0, y0, x1, y1 = box
    soft = feather_mask(region, max(1.0, aligned.size / 32))
    m = warp_to_photo(soft, aligned, box, cv2.BORDER_CONSTANT)
    if float(m.max()) <= 1e-3:
        return photo.copy()
    dst = photo[y0:y1, x0:x1]
    if base is not None:
        delta = generated.astype(np.float32) - base.astype(np.float32)
        d = warp_to_photo(delta, aligned, box, cv2.BORDER_REPLICATE)
        src = np.clip(dst.astype(np.float32) + d + 0.5, 0, 255).astype(np.uint8)
    else:
        src = warp_to_photo(generated, aligned, box, cv2.BORDER_REPLICATE)
    if colour:
        sel = m > 0.5
        src = transfer_colour(src, sel.astype(np.float32), dst, sel.astype(np.float32))
    out = photo.copy()
    out[y0:y1, x0:x1] = _blend(dst, src, m, "poisson" if gd else mode)
    return out


# ------------------------------------------------------------------------------------------ sheets
def head_view(photo: np.ndarray, aligned: AlignedFace, size: int = TILE_SIZE) -> np.ndarray:
    """The photo seen through the model's frame at ``size`` px: an upright tile of the head (for sheets).

    Warped at an integer multiple of ``size`` close to the photo's own resolution, then area-averaged
    down, so a large face is not aliased.
    """
    photo_px = aligned.size / float(np.sqrt(abs(np.linalg.det(aligned.matrix[:, :2]))))  # frame side in photo px
    k = int(np.clip(np.ceil(photo_px / size), 1, 8))
    big = size * k
    s = big / aligned.size
    scale = np.array([[s, 0.0, 0.5 * s - 0.5], [0.0, s, 0.5 * s - 0.5]])  # crop px → tile px, centres kept
    m = compose_affine(scale, aligned.matrix)
    tile = cv2.warpAffine(photo, m, (big, big), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return tile if k == 1 else cv2.resize(tile, (size, size), interpolation=cv2.INTER_AREA)


def upscale_crop(crop: np.ndarray, size: int = TILE_SIZE) -> np.ndarray:
    """A model crop enlarged to a tile (for sheets of raw generator outputs)."""
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_NEAREST if size % crop.shape[0] == 0
                      else cv2.INTER_LINEAR)


def sheet_shape(n: int, tile: int, columns: int, pad: int = 4) -> tuple[int, int]:
    """(height, width) of a sheet of ``n`` tiles of ``tile`` px in rows of ``columns``."""
    cols = max(1, min(columns, n))
    rows = -(-n // cols)
    return rows * tile + (rows + 1) * pad, cols * tile + (cols + 1) * pad


def make_sheet(tiles: Sequence[np.ndarray], columns: int = 8, pad: int = 4, background: int = 255) -> np.ndarray:
    """Tiles (equal squares) in a grid, left to right then top to bottom, on a plain background."""
    if not tiles:
        raise FaceweaveError("nothing to put on the sheet")
    t = tiles[0].shape[0]
    h, w = sheet_shape(len(tiles), t, columns, pad)
    cols = max(1, min(columns, len(tiles)))
    out = np.full((h, w, 3), background, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = pad + r * (t + pad), pad + c * (t + pad)
        out[y : y + t, x : x + t] = tile[..., :3]
    return out


# ------------------------------------------------------------------------------------------ operations
@dataclass
class OpResult:
    """What an operation made: result photos, the generator's raw crops, and the face they were made for."""

    photos: list[np.ndarray]
    crops: list[np.ndarray]
    aligned: AlignedFace
    reconstruction: np.ndarray | None = None  # G of the photo's own latents (crop)
    source: np.ndarray | None = field(default=None, repr=False)  # the photo the results were pasted into

    def tiles(self, raw: bool = False, size: int = TILE_SIZE) -> list[np.ndarray]:
        """One tile per result: the pasted-back photo's head frame, or (``raw``) the generator's crop."""
        if raw:
            return [upscale_crop(c, size) for c in self.crops]
        return [head_view(p, self.aligned, size) for p in self.photos]


def swap_faces(
    model: RSGAN,
    source: np.ndarray,
    source_face: Face,
    target: np.ndarray,
    target_face: Face,
    *,
    gd: bool = False,
    set_attrs: Mapping[str, float] | None = None,
    blend: str = "multiband",
    colour: bool = True,
) -> OpResult:
    """x' = G(z_A,xf, z_A,cf, z_B,xh, z_B,ch) with c* from the classifier, pasted into the target's face region.

    ``set_attrs`` edits the face attributes in the same pass (paper Fig. 1): c*_A is changed before
    z_cf is encoded. ``gd`` is RSGAN-GD (the face-mask region composed in the gradient domain).
    """
    size = model.config.image_size
    a, b = prepare(source, source_face, size), prepare(target, target_face, size)
    lat = encode(model, [a.crop, b.crop])
    la, lb = lat.take(0), lat.take(1)
    z = mix(la, lb)
    overrides = resolve_attributes(model.config.attribute_names, set_attrs or {})
    if overrides:
        z["cf"] = attribute_latents(model, apply_attributes(la.c, overrides))[0]
    crop = generate(model, z)[0]
    photo = paste_back(target, crop, b, region_mask(b, "face"), blend, gd=gd, colour=colour)
    return OpResult(photos=[photo], crops=[crop], aligned=b, source=target)


def edit_face(
    model: RSGAN,
    photo: np.ndarray,
    face: Face,
    values: Mapping[str, float],
    *,
    region: str = "face",
    residual: bool = True,
    blend: str = "multiband",
) -> OpResult:
    """Set attributes (names → values in [0, 1]) in the attribute latent of ``region`` and paste the change back."""
    overrides = resolve_attributes(model.config.attribute_names, values)
    if not overrides:
        raise FaceweaveError("nothing to edit: give at least one ATTRIBUTE=VALUE")
    al = prepare(photo, face, model.config.image_size)
    lat = encode(model, [al.crop])
    recon = generate(model, lat.z)[0]
    crop = generate(model, edited_latents(model, lat, overrides, region))[0]
    out = paste_back(photo, crop, al, region_mask(al, region), blend, base=recon if residual else None)
    return OpResult(photos=[out], crops=[crop], aligned=al, reconstruction=recon, source=photo)


def sample_parts(
    model: RSGAN,
    photo: np.ndarray,
    face: Face,
    *,
    random: str = "hair",
    n: int = 8,
    seed: int | None = 0,
    blend: str = "multiband",
) -> OpResult:
    """Keep one region of the face and draw the other region's latents from N(0, I) (paper Fig. 7)."""
    if n < 1:
        raise FaceweaveError(f"-n {n}: need at least 1 sample")
    al = prepare(photo, face, model.config.image_size)
    lat = encode(model, [al.crop])
    crops = generate(model, sampled_latents(model, lat, random, n, seed))
    reg = region_mask(al, random)
    photos = [paste_back(photo, c, al, reg, blend) for c in crops]
    return OpResult(photos=photos, crops=crops, aligned=al, reconstruction=generate(model, lat.z)[0], source=photo)


def interpolate_parts(
    model: RSGAN,
    photo_a: np.ndarray,
    face_a: Face,
    photo_b: np.ndarray,
    face_b: Face,
    *,
    part: str = "face",
    steps: int = 5,
    blend: str = "multiband",
) -> OpResult:
    """``steps`` results moving ``part``'s latents linearly from A to B, the rest kept from A; pasted into A."""
    size = model.config.image_size
    a, b = prepare(photo_a, face_a, size), prepare(photo_b, face_b, size)
    lat = encode(model, [a.crop, b.crop])
    crops = generate(model, interpolated_latents(lat.take(0), lat.take(1), part, steps))
    reg = region_mask(a, part)
    photos = [paste_back(photo_a, c, a, reg, blend) for c in crops]
    return OpResult(photos=photos, crops=crops, aligned=a, source=photo_a)
