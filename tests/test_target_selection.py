"""Choosing several target faces by index (what the web UI's face gallery sends)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import faces_of

from faceweave.api import select_targets
from faceweave.errors import FaceweaveError
from faceweave.media.image import Picture


def test_a_list_of_indices_picks_those_faces_once_each() -> None:
    faces = faces_of("faceapi_sample1.jpg", mesh=False, identity=False)
    pic = Picture(rgb=np.zeros((8, 8, 3), np.uint8), source="group.jpg")
    assert [f.index for f in select_targets(faces, pic, [2, 0, 2])] == [2, 0]
    with pytest.raises(FaceweaveError, match=r"group\.jpg: has 3 face\(s\); target face 99 is out of range"):
        select_targets(faces, pic, [0, 99])
    with pytest.raises(FaceweaveError, match="list of faces is empty"):
        select_targets(faces, pic, [])
