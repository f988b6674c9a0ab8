"""The delaunay engine (seed 004's classical pipeline) on real portraits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceweave.analysis import analyze
from faceweave.analysis.identity import embedding, identity_distance
from faceweave.analysis.landmarks import landmarks_68
from faceweave.engines import SwapOptions, engine_names, get_engine
from faceweave.engines.delaunay import DelaunayEngine, mouth_open, triangulate
from faceweave.errors import FaceweaveError
from faceweave.media import read_image

ASSETS = Path(__file__).parent / "assets"


@pytest.fixture(scope="module")
def pair():
    src = read_image(ASSETS / "facerec_obama.jpg").rgb
    tgt = read_image(ASSETS / "facerec_biden.jpg").rgb
    return src, analyze(src, mesh=False)[0], tgt, analyze(tgt, mesh=False)[0]


def test_registered_without_mesh() -> None:
    assert "delaunay" in engine_names()
    eng = get_engine("delaunay")
    assert isinstance(eng, DelaunayEngine)
    assert eng.name == "delaunay" and eng.needs_mesh is False


def test_triangulation_covers_the_hull(pair) -> None:
    _, _, _, tface = pair
    tris = triangulate(tface.landmarks)
    assert tris.shape[1] == 3 and len(tris) > 90  # 68 points, ~105 triangles
    assert set(np.unique(tris)) == set(range(68))


def test_swap_changes_only_the_target_face_and_carries_identity(pair) -> None:
    src, sface, tgt, tface = pair
    out = get_engine("delaunay").swap_face(src, sface, tgt, tface, SwapOptions())
    assert out.shape == tgt.shape and out.dtype == np.uint8
    changed = np.any(out != tgt, axis=2)
    assert changed.sum() > 0.3 * tface.area  # the face really was replaced
    x0, y0, x1, y1 = tface.box
    gx, gy = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    ys, xs = np.nonzero(changed)
    assert xs.min() >= x0 - gx and xs.max() <= x1 + gx
    assert ys.min() >= y0 - gy and ys.max() <= y1 + gy
    lm = landmarks_68(out, tface.box)
    emb = embedding(out, lm, tface.box)
    assert identity_distance(emb, sface.embedding) < identity_distance(emb, tface.embedding)


def test_blend_modes_and_no_colour(pair) -> None:
    src, sface, tgt, tface = pair
    eng = get_engine("delaunay")
    for mode in ("alpha", "poisson"):
        out = eng.swap_face(src, sface, tgt, tface, SwapOptions(blend=mode, colour_transfer=False))
        assert out.shape == tgt.shape and np.any(out != tgt)


def test_degenerate_landmarks_raise(pair) -> None:
    src, sface, tgt, tface = pair
    bad = type(tface)(index=0, box=tface.box, score=1.0, landmarks=np.zeros((5, 2), np.float32))
    with pytest.raises(FaceweaveError):
        get_engine("delaunay").swap_face(src, sface, tgt, bad, SwapOptions())


def test_mouth_open_detects_an_opening() -> None:
    lm = np.zeros((68, 2), np.float32)
    t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    lm[48:60] = np.stack([30 * np.cos(t), 12 * np.sin(t)], 1)
    s = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    lm[60:68] = np.stack([20 * np.cos(s), 0.2 * np.sin(s)], 1)
    assert not mouth_open(lm)
    lm[60:68] = np.stack([20 * np.cos(s), 6 * np.sin(s)], 1)
    assert mouth_open(lm)
