"""The warp path's speed-ups change nothing but time: a source photo analysed once across API calls,
the hand model on a worker thread, the palm threshold that skips landmark runs on hand-free faces."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import faces_of, load_rgb

import faceweave
from faceweave.analysis import cache
from faceweave.analysis.occlusion import hand_landmarks, occlusion_mask
from faceweave.engines import SwapOptions, get_engine
from faceweave.errors import FaceweaveError
from faceweave.media import provenance

HAND_FRAME = "pyfeat_wolfganglanger_frame150.jpg"


def test_the_same_source_is_analysed_once_across_swaps(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, ...]] = []
    real = cache.analyze

    def counting(rgb: np.ndarray, **kw: object) -> list:
        calls.append(rgb.shape)
        return real(rgb, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(cache, "analyze", counting)
    cache.clear()
    src = load_rgb("facerec_biden.jpg")
    provenance.configure(enabled=False)  # no per-output watermark id: equal swaps are equal arrays
    try:
        a = faceweave.swap(src, load_rgb("facerec_obama.jpg"))
        b = faceweave.swap(src.copy(), load_rgb("pyfeat_0-f15-hao-ph.jpg"))  # equal pixels, another array
        c = faceweave.swap(src, load_rgb("facerec_obama.jpg"))
    finally:
        provenance.configure(enabled=True)
    assert calls == [src.shape]  # analysed for the first swap only
    assert np.array_equal(a, c)  # a cached analysis gives the same swap as a fresh one
    assert a.shape != b.shape or not np.array_equal(a, b)

    edited = src.copy()
    edited[:40] = 0  # a changed photo is a new key: analysed again, never served stale
    faceweave.swap(edited, load_rgb("facerec_obama.jpg"))
    assert len(calls) == 2


def test_cached_faces_are_copies() -> None:
    cache.clear()
    rgb = load_rgb("facerec_obama.jpg")
    first = cache.analyze_cached(rgb, mesh=False, identity=False)
    first[0].landmarks[:] = 0  # a caller changing its result …
    first[0].masks["occlusion"] = np.ones(rgb.shape[:2], np.float32)
    again = cache.analyze_cached(rgb, mesh=False, identity=False)
    assert again[0].landmarks.any() and "occlusion" not in again[0].masks  # … does not change the cache
    assert cache.photo_key(rgb, mesh=True) != cache.photo_key(rgb, mesh=False)


def test_hand_mask_from_the_worker_thread_equals_the_one_computed_in_line() -> None:
    t = load_rgb(HAND_FRAME)
    face = faces_of(HAND_FRAME)[0]
    s, sf = load_rgb("facerec_obama.jpg"), faces_of("facerec_obama.jpg")[0]
    eng = get_engine("warp")
    threaded = eng.swap_face(s, sf, t, face, SwapOptions())
    given = copy.deepcopy(face)
    given.masks["occlusion"] = occlusion_mask(t, face)
    assert given.masks["occlusion"].sum() > 2000  # the hand is there
    in_line = eng.swap_face(s, sf, t, given, SwapOptions())
    assert np.array_equal(threaded, in_line)
    hand = given.masks["occlusion"] > 0.5
    assert np.abs(threaded.astype(np.float32) - t.astype(np.float32)).mean(-1)[hand].mean() < 2.0


def test_an_error_on_the_worker_thread_reaches_the_caller() -> None:
    t = load_rgb(HAND_FRAME)
    face = copy.deepcopy(faces_of(HAND_FRAME)[0])
    face.masks["occlusion"] = np.zeros((10, 10), np.float32)  # wrong shape
    with pytest.raises(FaceweaveError, match="occlusion"):
        get_engine("warp").swap_face(load_rgb("facerec_obama.jpg"), faces_of("facerec_obama.jpg")[0], t, face,
                                     SwapOptions())


def test_no_hand_on_hand_free_portraits() -> None:
    # The palm threshold (0.3) may not invent hands where 0.1 found none either.
    for name in ("facerec_obama.jpg", "pyfeat_0-f15-hao-ph.jpg", "skimage_astronaut.png"):
        assert hand_landmarks(load_rgb(name), faces_of(name)[0]) == []
