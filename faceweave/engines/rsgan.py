"""The ``rsgan`` engine: face swap in RSGAN's latent spaces (Natsume et al. 2018, sec. 3.3).

Both faces are aligned to the model's frame, encoded with the classifier's c*, and the composer
draws x' = G(z_src,xf, z_src,cf, z_tgt,xh, z_tgt,ch); the face-mask region of x' is pasted back into
the target photo through the common compose step (:func:`faceweave.pipelines.rsgan.paste.paste_back`).

Engine options (:class:`RSGANOptions`; from the API as keyword arguments of ``faceweave.swap``, from
the CLI as ``faceweave swap --engine rsgan --gd --set ATTR=VALUE --checkpoint PATH``):

- ``gd`` (bool): RSGAN-GD — the face region is composed into the target in the gradient domain
  (Poisson) instead of with ``options.blend``;
- ``checkpoint`` (path): RSGAN weights (default: the registry's ``rsgan-demo`` weights);
- ``set_attrs`` (mapping attribute → value in [0, 1], or ``["Smiling=1", ...]``; ``set`` is accepted
  as an older name): edit the swapped face's attributes in the same pass (paper Fig. 1).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from faceweave.analysis.face import Face
from faceweave.analysis.template import RSGAN_HAIR_BOX
from faceweave.engines.base import EngineBase, EngineOptions, SwapOptions, register_engine, weights_label

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RSGANOptions(EngineOptions):
    """The rsgan engine's own options."""

    gd: bool = False
    checkpoint: str | os.PathLike[str] | None = None
    set_attrs: Mapping[str, object] | Iterable[str] | None = None


@register_engine("rsgan")
class RSGANEngine(EngineBase):
    """Latent face swap with RSGAN; ``gd`` for gradient-domain composition (RSGAN-GD)."""

    name = "rsgan"
    needs_mesh = False
    learned = True  # a trained network makes the pixels: outputs are trainedAlgorithmicMedia
    Options = RSGANOptions

    def options(self, options: SwapOptions) -> RSGANOptions:
        extra = dict(options.extra)
        if "set" in extra and "set_attrs" not in extra:  # the name the API used before set_attrs
            extra["set_attrs"] = extra.pop("set")
        return RSGANOptions(**{k: v for k, v in extra.items() if k in ("gd", "checkpoint", "set_attrs")})

    def model_name(self, options: SwapOptions) -> str:
        return weights_label(self.options(options).checkpoint, "rsgan-demo")

    def swap_face(
        self,
        source: np.ndarray,
        source_face: Face,
        target: np.ndarray,
        target_face: Face,
        options: SwapOptions,
    ) -> np.ndarray:
        from faceweave.pipelines.rsgan import attributes, ops, weights

        t0 = time.perf_counter()
        own = self.options(options)
        model = weights.load_model(own.checkpoint)
        values = attributes.parse_assignments(own.set_attrs)  # type: ignore[arg-type]
        t1 = time.perf_counter()
        res = ops.swap_faces(
            model, source, source_face, target, target_face,
            gd=bool(own.gd), set_attrs=values, blend=options.blend, colour=options.colour_transfer,
        )
        self.timings = {"load": t1 - t0, "swap": time.perf_counter() - t1}
        return res.photos[0]

    def reconstruct(self, aligned_rgb: np.ndarray, options: SwapOptions | None = None) -> np.ndarray:
        """x′ for a CelebA-aligned 178×218 crop (eval's reconstruction metric).

        The model sees the hair-crop frame (the 178×178 square at (0, 20), resized to its
        resolution); the reconstruction is resized back into that square and the 20-pixel bands above
        and below, which the model never sees, are left as they were.
        """
        import cv2
        import torch

        from faceweave.pipelines.rsgan import latents, weights

        own = self.options(options) if options is not None else RSGANOptions()
        model = weights.load_model(own.checkpoint)
        x0, y0, w, h = RSGAN_HAIR_BOX
        frame = aligned_rgb[y0 : y0 + h, x0 : x0 + w]
        size = model.config.image_size
        small = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
        with torch.no_grad():
            rec = latents.to_uint8(model.reconstruct(latents.to_tensor([small])))[0]
        out = aligned_rgb.copy()
        out[y0 : y0 + h, x0 : x0 + w] = cv2.resize(rec, (w, h), interpolation=cv2.INTER_CUBIC)
        return out

    @classmethod
    def add_cli_arguments(cls, group: argparse._ArgumentGroup) -> None:
        group.add_argument("--gd", action="store_true",
                           help="rsgan engine: RSGAN-GD (face composed in the gradient domain)")
        group.add_argument("--set", dest="set_attrs", action="append", default=[], metavar="ATTR=VALUE",
                           help="rsgan engine: also set a face attribute, 0..1 (repeatable)")

    @classmethod
    def options_from_cli(cls, args: argparse.Namespace) -> dict[str, object]:
        from faceweave.pipelines.rsgan.attributes import parse_assignments

        # --checkpoint is shared by every learned engine (faceweave.cli)
        return {"gd": getattr(args, "gd", False), "set_attrs": parse_assignments(getattr(args, "set_attrs", None))}

    @classmethod
    def cli_flags_given(cls, args: argparse.Namespace) -> list[str]:
        flags = (("--gd", "gd"), ("--set", "set_attrs"))
        return [f for f, dest in flags if getattr(args, dest, None)]
