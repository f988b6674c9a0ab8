"""The content of ``report.json``: per-engine summaries of the pair metrics, failures, photos and pairs."""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from faceweave.engines.base import SwapOptions
from faceweave.eval import metrics as M
from faceweave.eval.photos import Photo
from faceweave.eval.results import METRICS, EngineResult


def _summary(er: EngineResult) -> dict[str, object]:
    n = len(er.pairs)
    ok = sum(p.ok for p in er.pairs)
    retrieved = [p.retrieved for p in er.pairs if p.retrieved is not None]
    s: dict[str, object] = {
        "pairs": n,
        "succeeded": ok,
        "success_rate": M.success_rate(ok, n),
        "retrieval": (sum(retrieved) / len(retrieved)) if retrieved else None,
        "retrieval_n": len(retrieved),
    }
    for key in ("nearer_source", "nearer_source_192"):
        flags = [getattr(p, key) for p in er.pairs if getattr(p, key) is not None]
        s[key] = (sum(flags) / len(flags)) if flags else None
        s[key + "_n"] = len(flags)
    for key in METRICS:
        if key.startswith("recon_"):
            vals = [v["abs" if key == "recon_abs" else "msssim"] for v in er.recon.values()]
        else:
            vals = [getattr(p, key) for p in er.pairs]
        s[key] = M.summarize(vals)
    return s


def _clean(x: object) -> object:
    """JSON-safe: NaN → None, numpy scalars → Python."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def build_report(
    photos: Sequence[Photo],
    pairs: Sequence[tuple[int, int]],
    results: Sequence[EngineResult],
    *,
    images: str | Path,
    seed: int,
    options: SwapOptions,
    seconds: float,
    threshold: float,
    identities_given: bool,
) -> dict[str, object]:
    """The content of ``report.json``."""
    import faceweave

    engines: dict[str, object] = {}
    for er in results:
        engines[er.name] = {
            "summary": _summary(er),
            "failures": [
                {"source": p.source, "target": p.target, "stage": p.stage, "reason": p.reason}
                for p in er.pairs
                if p.stage
            ],
            "metric_errors": [
                {"source": p.source, "target": p.target, **p.metric_errors} for p in er.pairs if p.metric_errors
            ],
            "reconstruction": er.recon if er.recon else None,
            "reconstruction_skipped": er.recon_error,
            "pairs": [p.to_dict() for p in er.pairs],
        }
    rep = {
        "faceweave": faceweave.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(seconds, 1),
        "machine": platform.platform(),
        "images": str(images),
        "seed": seed,
        "options": {
            "blend": options.blend, "colour_transfer": options.colour_transfer, "keep_mouth": options.keep_mouth
        },
        "crop_size": list(M.CROP_SIZE),
        "identity_labels": "given" if identities_given else f"clustered (distance < {threshold})",
        "photos": [
            {
                "name": p.name,
                "identity": p.identity,
                "face": p.face is not None,
                "error": p.error,
                "pose": None if p.pose is None else [round(v, 2) for v in p.pose],
            }
            for p in photos
        ],
        "pairs": [[photos[i].name, photos[j].name] for i, j in pairs],
        "engines": engines,
    }
    return _clean(rep)  # type: ignore[return-value]
