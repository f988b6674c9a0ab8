"""Pseudo pairs for the person trainer (issue 16; not in seed 003 — our departure, off by default).

The poster's losses say *what* the output should look like only through neural-patch statistics; on
our CPU budget they never moved a network away from the identity mapping (docs/person.md). A pseudo
pair gives a pixel target instead. Both kinds are made with the project's own ``warp`` engine
(mesh warp, colour transfer, blend) on the cached aligned crops of the run (``faces.npz``: the
person's training frames and the ``--content`` faces of other people, never held-out photos):

- ``into_person``: x = another person's face warped into one of the person's frames, y = that
  frame. Pose, expression, light, hair and background are identical; only the face differs.
- ``person_into_other``: x = another person's real face, y = the person's face (the frame nearest in
  landmarks) warped onto it. x is a real face of the kind the engine sees; y keeps its pose.

The trainer adds λ_pair·‖f(x) − y‖₁ (``--pseudo-pairs``) to the poster's total loss (Eq. 5).
Both x and y lie in the reference frame (the swap is done at ``UPSCALE``× and shrunk back).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)
UPSCALE = 2  # crops are analysed and swapped at twice their size (small faces are found more reliably)
KINDS = ("into_person", "person_into_other")


def _analysed(crops: np.ndarray) -> list[tuple[np.ndarray, Any] | None]:
    """(upscaled crop, its Face with mesh) per crop, None where no face is found."""
    from faceweave.analysis import analyze

    out: list[tuple[np.ndarray, Any] | None] = []
    for c in crops:
        big = cv2.resize(c, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
        found = analyze(big, max_faces=1, identity=False)
        out.append((big, found[0]) if found and found[0].mesh is not None else None)
    return out


def _nearest(desc_from: np.ndarray, desc_to: np.ndarray, k: int) -> np.ndarray:
    """(len(desc_from), k) indices of the k nearest ``desc_to`` rows in landmark space."""
    d = ((desc_from[:, None, :] - desc_to[None, :, :]) ** 2).sum(-1)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def jittered(crops: np.ndarray, lms: np.ndarray, copies: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The crops plus ``copies`` random similarity-jittered copies of each (±8°, ×0.92–1.08, ±4 px), with landmarks."""
    if copies <= 0:
        return crops, lms
    rng = np.random.default_rng(seed)
    size = crops.shape[1]
    out_c, out_l = [crops], [lms]
    for _ in range(copies):
        cs, ls = [], []
        for c, lm in zip(crops, lms, strict=True):
            m = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-8, 8), rng.uniform(0.92, 1.08))
            m[:, 2] += rng.uniform(-4, 4, 2)
            cs.append(cv2.warpAffine(c, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
            ls.append(((lm * size) @ m[:, :2].T + m[:, 2]) / size)
        out_c.append(np.stack(cs))
        out_l.append(np.stack(ls).astype(np.float32))
    return np.concatenate(out_c), np.concatenate(out_l)


def build_person_pseudo_pairs(d: dict[str, np.ndarray], per_face: int = 3, onto_others: int | None = None,
                              jitter: int = 0, engine: str = "warp") -> dict[str, np.ndarray]:
    """Pseudo pairs from a run's faces (nearest in landmarks first): ``per_face`` other faces into each of the
    person's frames; the person's ``onto_others`` (default ``per_face``) nearest frames onto each other face
    and each of its ``jitter`` similarity-jittered copies.

    Returns ``x``, ``y`` (N, S, S, 3) uint8 and ``kind`` (N,) int (index into :data:`KINDS`)."""
    from faceweave.engines import SwapOptions, get_engine
    from faceweave.models.person.frame import pose_expression_descriptor

    person, others = d["style_crops"], d["content_crops"]
    onto_others = per_face if onto_others is None else onto_others
    if not len(others):
        raise FaceweaveError("--pseudo-pairs needs faces of other people (--content)")
    size = person.shape[1]
    a_person, a_other = _analysed(person), _analysed(others)
    desc_p, desc_o = pose_expression_descriptor(d["style_lms"]), pose_expression_descriptor(d["content_lms"])
    others_j, lms_j = jittered(others, d["content_lms"], jitter)
    a_other_j = a_other + _analysed(others_j[len(others):])
    desc_j = pose_expression_descriptor(lms_j)
    eng, opts = get_engine(engine), SwapOptions()
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    kinds: list[int] = []

    def swap(src: tuple[np.ndarray, Any], tgt: tuple[np.ndarray, Any]) -> np.ndarray | None:
        try:
            y = eng.swap_face(src[0], src[1], tgt[0], tgt[1], opts)
        except FaceweaveError as e:
            log.debug("pseudo pair skipped: %s", e)
            return None
        return cv2.resize(y, (size, size), interpolation=cv2.INTER_AREA)

    ok_o = np.array([a is not None for a in a_other])
    ok_p = np.array([a is not None for a in a_person])
    for i in np.flatnonzero(ok_p):  # into_person: another face into the person's frame i
        for j in np.flatnonzero(ok_o)[_nearest(desc_p[i : i + 1], desc_o[ok_o], per_face)[0]]:
            comp = swap(a_other[j], a_person[i])  # type: ignore[arg-type]
            if comp is not None:
                xs.append(comp)
                ys.append(person[i])
                kinds.append(0)
    for j in np.flatnonzero([a is not None for a in a_other_j]):  # person_into_other: her frames onto face j
        for i in np.flatnonzero(ok_p)[_nearest(desc_j[j : j + 1], desc_p[ok_p], onto_others)[0]]:
            comp = swap(a_person[i], a_other_j[j])  # type: ignore[arg-type]
            if comp is not None:
                xs.append(others_j[j])
                ys.append(comp)
                kinds.append(1)
    if not xs:
        raise FaceweaveError("no pseudo pair could be made (the warp engine failed on every crop)")
    log.info("%d pseudo pairs (%d into the person, %d of the person onto others)", len(xs),
             kinds.count(0), kinds.count(1))
    return {"x": np.stack(xs), "y": np.stack(ys), "kind": np.array(kinds, np.int8)}


def load_or_build_pseudo_pairs(d: dict[str, np.ndarray], cache: Path, per_face: int = 3,
                               onto_others: int | None = None, jitter: int = 0) -> dict[str, np.ndarray]:
    """The run's pseudo pairs, built once and cached in ``cache`` (an ``.npz`` next to ``faces.npz``)."""
    key = np.array([per_face, per_face if onto_others is None else onto_others, jitter])
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            p = {k: z[k] for k in z.files}
        if np.array_equal(p.get("key", np.zeros(0)), key):
            return p
        log.info("%s was built with other settings; building again", cache)
    p = build_person_pseudo_pairs(d, per_face, onto_others, jitter) | {"key": key}
    from faceweave.media.atomic import atomic_write

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **p)

    atomic_write(cache, write)
    return p
