"""Hands over time in video (faceweave.analysis.occlusion_track): fewer hand-model runs, the hand still kept.

The clip is 32 real frames of the sample video in which a hand comes up in front of the mouth
(tests/assets/pyfeat_wolfganglanger_hand.mp4, frames 48–79 of the original).
"""

from __future__ import annotations

import numpy as np
from conftest import ASSETS

CLIP = ASSETS / "pyfeat_wolfganglanger_hand.mp4"


def test_tracked_hand_masks_follow_the_per_frame_hand_model() -> None:
    import av

    from faceweave.analysis.occlusion import occlusion_mask
    from faceweave.analysis.occlusion_track import OcclusionTracker
    from faceweave.analysis.track import FaceTracker

    tracker, hands = FaceTracker(fps=24), OcclusionTracker()
    covered, with_hand, false_masks, frames = [], 0, 0, 0
    with av.open(str(CLIP)) as c:
        for rgb in (f.to_ndarray(format="rgb24") for f in c.decode(video=0)):
            faces = tracker.update(rgb)
            assert faces, "the face is followed in every frame"
            hands.update(rgb, faces[:1])
            tracked = faces[0].masks.get("occlusion")
            full = occlusion_mask(rgb, faces[0])  # what the engine computes on every frame of a photo
            frames += 1
            if full.sum() > 0:
                with_hand += 1
                covered.append(0.0 if tracked is None else float(np.minimum(tracked, full).sum() / full.sum()))
            elif tracked is not None and tracked.max() >= 0.5:
                false_masks += 1
    assert with_hand >= 15  # the clip does have a hand in front of the face
    # The hand model ran on far fewer frames than it was needed on per frame …
    assert hands.runs <= 0.7 * frames, (hands.runs, frames)
    # … and the carried, smoothed mask still covers the hand the per-frame model finds.
    assert np.mean(covered) >= 0.85 and np.mean(np.array(covered) >= 0.5) >= 0.9, covered
    # Before the hand comes up (and wherever the model sees none) there is no solid mask of a hand.
    assert false_masks <= 3, false_masks


def test_faces_without_a_hand_get_no_mask_and_the_model_runs_rarely() -> None:
    import av

    from faceweave.analysis.occlusion_track import OcclusionTracker
    from faceweave.analysis.track import FaceTracker

    tracker, hands = FaceTracker(fps=24), OcclusionTracker()
    with av.open(str(CLIP)) as c:
        frames = [f.to_ndarray(format="rgb24") for i, f in enumerate(c.decode(video=0)) if i < 8]  # before the hand
    masks = []
    for rgb in frames:
        faces = tracker.update(rgb)
        hands.update(rgb, faces[:1])
        masks.append(faces[0].masks.get("occlusion"))
    assert all(m is None for m in masks)
    assert hands.runs <= 3, hands.runs  # first frame, then every 6th (plus motion, if any)
