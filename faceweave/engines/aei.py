"""The ``aei`` engine: FaceShifter's AEI-Net (seed 001) — identity of the source, attributes of the target.

For one (source face → target face):

1. z_id: the source face aligned to ArcFace's 112×112 template straight from the photo (full
   resolution), through the frozen 512-D identity net;
2. the target face aligned to the AEI frame (ArcFace's template in the central 218/256 box,
   :mod:`faceweave.models.aei.frame`), Ŷ = G(z_id, E(X_t));
3. Ŷ is warped back into the photo and composed like the warp engine's result: the target's skin
   mask from the face mesh (forehead lowered, open mouth kept when ``keep_mouth``) cut to where Ŷ
   covers, optional L*a*b* colour transfer on skin, then the chosen blend.

Engine options (``SwapOptions.extra``): ``checkpoint`` — AEI weights (a safetensors file or a run
directory; default: the shipped demo weights from the model registry, ``aei-demo``).
Inference only: never imports faceweave.train or faceweave.data.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from faceweave.analysis.align import five_points, similarity_transform
from faceweave.analysis.face import Face
from faceweave.compose.blend import blend
from faceweave.compose.colour import transfer_colour
from faceweave.engines.base import EngineBase, EngineOptions, SwapOptions, register_engine, weights_label
from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)
_LOCK = threading.Lock()
DEMO_MODEL = "aei-demo"
_ZID_CACHE: OrderedDict[tuple[str, bytes], object] = OrderedDict()  # (identity net, aligned source) → z_id
_ZID_CACHE_SIZE = 32


def _source_embedding(ident, src112: np.ndarray, key: str):  # noqa: ANN001, ANN202 - torch types stay lazy
    """z_id of an aligned 112×112 source, computed once per source (a video reuses it every frame)."""
    k = (key, hashlib.sha1(src112.tobytes()).digest())
    z = _ZID_CACHE.get(k)
    if z is None:
        z = ident.embed_aligned(_to_tensor(src112))
        _ZID_CACHE[k] = z
        if len(_ZID_CACHE) > _ZID_CACHE_SIZE:
            _ZID_CACHE.popitem(last=False)
    else:
        _ZID_CACHE.move_to_end(k)
    return z


def resolve_weights(checkpoint: str | os.PathLike[str] | None) -> Path:
    """A weight file: the given file, the newest checkpoint of a run directory, or the registry's demo weights."""
    if checkpoint is None:
        from faceweave.registry import get

        return get(DEMO_MODEL).require()
    p = Path(checkpoint)
    for d in (p / "checkpoints", p):
        if d.is_dir():
            latest = d / "latest"
            if latest.is_file():
                cand = d / f"{latest.read_text(encoding='utf-8').strip()}.safetensors"
                if cand.is_file():
                    return cand
            found = sorted(d.glob("*.safetensors"))
            if found:
                return found[-1]
    if not p.is_file():
        raise FaceweaveError(f"AEI checkpoint not found: {p}")
    return p


@cache
def _load(path: str):  # noqa: ANN202 - (AEINet, FrozenIdentity)
    from faceweave.models.aei import AEINet, FrozenIdentity
    from faceweave.models.aei.identity import default_identity_net

    model = AEINet.from_pretrained(path)
    ident = FrozenIdentity(default_identity_net(), model.config.id_crop)
    return model, ident


def load_model(checkpoint: str | os.PathLike[str] | None = None):  # noqa: ANN201
    """(AEINet in eval mode, frozen identity net) for a checkpoint (cached per file)."""
    return _load(str(resolve_weights(checkpoint).resolve()))


def _to_tensor(rgb: np.ndarray):  # noqa: ANN202
    import torch

    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 127.5 - 1


def _face_box(face: Face, shape: tuple[int, int], margin: float = 0.25) -> tuple[int, int, int, int]:
    pts = face.mesh[:, :2] if face.mesh is not None else face.landmarks
    lo, hi = pts.min(0), pts.max(0)
    pad = (hi - lo) * margin + 4
    x0, y0 = np.maximum(np.floor(lo - pad).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(hi + pad).astype(int), [shape[1], shape[0]])
    return int(x0), int(y0), int(x1), int(y1)


def landmark_mask(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """Fallback face mask without a mesh: hull of the 68 landmarks (jaw, brows), feathered inwards."""
    hull = cv2.convexHull(np.asarray(landmarks, np.float32)).reshape(-1, 2)
    m = np.zeros(shape, np.float32)
    cv2.fillPoly(m, [np.round(hull).astype(np.int32)], 1.0)
    size = float(np.max(hull.max(0) - hull.min(0)))
    r = max(int(round(0.03 * size)), 1)
    m = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return cv2.GaussianBlur(m, (0, 0), sigmaX=r / 2 + 0.5)


@dataclass(frozen=True)
class AEIOptions(EngineOptions):
    """The aei engine's own options."""

    checkpoint: str | os.PathLike[str] | None = None


@register_engine("aei")
class AEIEngine(EngineBase):
    """AEI-Net face swap: Ŷ = G(z_id(source), z_att(target)), pasted back with the common compose step."""

    name = "aei"
    needs_mesh = True  # the blend mask is the target's skin region from the mesh (landmark hull without one)
    learned = True
    Options = AEIOptions

    def model_name(self, options: SwapOptions) -> str:
        return weights_label(options.extra.get("checkpoint"), DEMO_MODEL)

    def generate(self, source: np.ndarray, source_face: Face | np.ndarray, target: np.ndarray,
                 target_face: Face | np.ndarray, checkpoint: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(Ŷ as S×S uint8 RGB in the AEI frame, 2×3 matrix photo → frame) for one pair.

        Each face is a :class:`Face` or its five points (eye centres, nose tip, mouth corners)."""
        import torch

        from faceweave.models.aei.frame import ARCFACE_112, aei_matrix

        def points(f: Face | np.ndarray) -> np.ndarray:
            return five_points(f.landmarks) if isinstance(f, Face) else np.asarray(f, np.float64)

        model, ident = load_model(checkpoint)
        s = model.config.image_size
        m_id = similarity_transform(points(source_face), ARCFACE_112)
        src112 = cv2.warpAffine(source, m_id, (112, 112), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
        m_t = aei_matrix(points(target_face), s, model.config.id_crop)
        crop_t = cv2.warpAffine(target, m_t, (s, s), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
        with _LOCK, torch.no_grad():
            z = _source_embedding(ident, src112, str(id(ident)))  # ident is cached per weight file
            y = model(_to_tensor(crop_t), z)
        out = ((y[0].permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).round().astype(np.uint8)
        return out, m_t

    def reconstruct(self, aligned_rgb: np.ndarray, options: SwapOptions | None = None) -> np.ndarray:
        """x′ = G(z_id(x), z_att(x)) of a CelebA-aligned 178×218 crop (Eq. 4.11's pair), back in the crop's frame.

        AEI-Net generates only its square face frame (the face, a little hair and background); the
        crop's pixels outside that frame are the input's, as they are in a swap's paste-back.
        """
        from faceweave.analysis.template import CELEBA_5PT

        ckpt = None if options is None else options.extra.get("checkpoint")
        y, m = self.generate(aligned_rgb, CELEBA_5PT, aligned_rgb, CELEBA_5PT, None if ckpt is None else str(ckpt))
        h, w = aligned_rgb.shape[:2]
        flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
        back = cv2.warpAffine(y, m, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        inside = cv2.warpAffine(np.ones(y.shape[:2], np.float32), m, (w, h),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        a = inside[..., None]
        return (a * back + (1 - a) * aligned_rgb).round().astype(np.uint8)

    def swap_face(
        self,
        source: np.ndarray,
        source_face: Face,
        target: np.ndarray,
        target_face: Face,
        options: SwapOptions,
    ) -> np.ndarray:
        t0 = time.perf_counter()
        ckpt = options.extra.get("checkpoint")
        y, m_t = self.generate(source, source_face, target, target_face, None if ckpt is None else str(ckpt))
        t1 = time.perf_counter()
        x0, y0, x1, y1 = _face_box(target_face, target.shape[:2])
        sub = target[y0:y1, x0:x1]
        shape = sub.shape[:2]
        m = m_t.copy()
        m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)  # frame ← sub-image coordinates
        flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
        warped = cv2.warpAffine(y, m, (shape[1], shape[0]), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        s = y.shape[0]
        inside = np.zeros((s, s), np.float32)
        inside[2:-2, 2:-2] = 1
        cover = cv2.warpAffine(inside, m, (shape[1], shape[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        cover = (cover > 0.99).astype(np.float32)
        if target_face.mesh is not None:
            from faceweave.engines.warp import face_mask

            mesh = target_face.mesh - np.array([x0, y0, 0], np.float32)
            from faceweave.engines.warp import target_kept_mask

            # the generator already gives the target's expression: keep only its open-mouth interior
            kept = target_kept_mask(shape, mesh, mesh, options.keep_mouth, keep_eyes=False)
            mask = face_mask(shape, mesh, cover, kept)
            from faceweave.analysis.masks import skin_mask

            skin = skin_mask(shape, mesh) * cover
        else:
            skin = landmark_mask(shape, target_face.landmarks - np.array([x0, y0], np.float32)) * cover
            mask = skin
        if mask.max() <= 0:
            raise FaceweaveError("the aligned face does not cover the target face (face at the border?)")
        if options.colour_transfer:
            core = cv2.erode((skin > 0.5).astype(np.float32), np.ones((5, 5), np.uint8))
            if core.sum() > 16:
                warped = transfer_colour(warped, core, sub, core)
        out = target.copy()
        out[y0:y1, x0:x1] = blend(sub, warped, mask, options.blend)
        self.timings = {"generate": t1 - t0, "compose": time.perf_counter() - t1}
        return out
