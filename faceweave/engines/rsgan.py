"""The ``rsgan`` engine: face swap in RSGAN's latent spaces (Natsume et al. 2018, sec. 3.3).

Both faces are aligned to the model's frame, encoded with the classifier's c*, and the composer
draws x' = G(z_src,xf, z_src,cf, z_tgt,xh, z_tgt,ch); the face-mask region of x' is pasted back into
the target photo through the common compose step (:func:`faceweave.apps.rsgan_ops.paste_back`).

Engine options (``SwapOptions.extra``; from the API as keyword arguments of ``faceweave.swap``):

- ``gd`` (bool): RSGAN-GD — the face region is composed into the target in the gradient domain
  (Poisson) instead of with ``options.blend``;
- ``checkpoint`` (path): RSGAN weights (default: the shipped demo weights);
- ``set`` (mapping attribute → value in [0, 1], or ``["Smiling=1", ...]``): edit the swapped face's
  attributes in the same pass (paper Fig. 1).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from faceweave.analysis.face import Face
from faceweave.engines.base import SwapOptions, register_engine

log = logging.getLogger(__name__)


@register_engine("rsgan")
class RSGANEngine:
    """Latent face swap with RSGAN; ``gd`` for gradient-domain composition (RSGAN-GD)."""

    name = "rsgan"
    needs_mesh = False
    learned = True  # a trained network makes the pixels: outputs are trainedAlgorithmicMedia

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def swap_face(
        self,
        source: np.ndarray,
        source_face: Face,
        target: np.ndarray,
        target_face: Face,
        options: SwapOptions,
    ) -> np.ndarray:
        from faceweave.apps import rsgan_ops as ops

        t0 = time.perf_counter()
        extra = options.extra
        model = ops.load_model(extra.get("checkpoint"))  # type: ignore[arg-type]
        values = ops.parse_assignments(extra.get("set"))  # type: ignore[arg-type]
        t1 = time.perf_counter()
        res = ops.swap_faces(
            model, source, source_face, target, target_face,
            gd=bool(extra.get("gd", False)), set_attrs=values, blend=options.blend,
            colour=options.colour_transfer,
        )
        self.timings = {"load": t1 - t0, "swap": time.perf_counter() - t1}
        return res.photos[0]

    def reconstruct(self, aligned_rgb: np.ndarray, checkpoint: str | None = None) -> np.ndarray:
        """x′ for a CelebA-aligned 178×218 crop (eval's reconstruction metric).

        The model sees the hair-crop frame (the 178×178 square at (0, 20), resized to its
        resolution); the reconstruction is resized back into that square and the 20-pixel bands above
        and below, which the model never sees, are left as they were.
        """
        import cv2
        import torch

        from faceweave.apps import rsgan_ops as ops
        from faceweave.data.builder import HAIR_BOX

        model = ops.load_model(checkpoint)
        x0, y0, w, h = HAIR_BOX
        frame = aligned_rgb[y0 : y0 + h, x0 : x0 + w]
        size = model.config.image_size
        small = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
        with torch.no_grad():
            rec = ops.to_uint8(model.reconstruct(ops.to_tensor([small])))[0]
        out = aligned_rgb.copy()
        out[y0 : y0 + h, x0 : x0 + w] = cv2.resize(rec, (w, h), interpolation=cv2.INTER_CUBIC)
        return out

