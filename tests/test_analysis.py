"""Face analysis on real photos: detection in group photos, landmarks, mesh, identity, alignment."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import GROUP_COUNTS, faces_of, load_rgb

from faceweave.analysis.align import CELEBA_5PT, align_face, five_points, transform_points
from faceweave.analysis.identity import identity_distance
from faceweave.analysis.masks import person_mask, rsgan_face_mask, skin_mask


@pytest.mark.parametrize("name,count", sorted(GROUP_COUNTS.items()))
def test_every_face_of_group_photos_is_found(name: str, count: int) -> None:
    faces = faces_of(name)
    assert len(faces) == count
    # the faces are distinct people at distinct places, each with landmarks inside its box
    for f in faces:
        cx, cy = f.landmarks[30]  # nose tip
        assert f.box[0] <= cx <= f.box[2] and f.box[1] <= cy <= f.box[3]
        assert f.mesh is not None, f"no mesh for face {f.index} of {name}"
        assert f.mesh.shape == (478, 3)
        nx, ny = f.mesh[1, :2]
        assert f.box[0] <= nx <= f.box[2] and f.box[1] <= ny <= f.box[3]


def test_faces_sorted_largest_first() -> None:
    faces = faces_of("faceapi_sample5.jpg")
    areas = [f.area for f in faces]
    assert areas == sorted(areas, reverse=True)


def test_small_side_face_found() -> None:
    faces = faces_of("skimage_camera.png")
    assert len(faces) == 1


def test_identity_same_person_nearer_than_other_people() -> None:
    o1 = faces_of("facerec_obama.jpg")[0].embedding
    o2 = faces_of("facerec_obama2.jpg")[0].embedding
    b = faces_of("facerec_biden.jpg")[0].embedding
    a = faces_of("skimage_astronaut.png")[0].embedding
    assert identity_distance(o1, o1) == pytest.approx(0.0, abs=1e-9)
    assert identity_distance(o1, o2) < identity_distance(o1, b)
    assert identity_distance(o1, o2) < identity_distance(o1, a)


def test_alignment_puts_eyes_on_the_celeba_template() -> None:
    rgb = load_rgb("facerec_biden.jpg")
    f = faces_of("facerec_biden.jpg")[0]
    crop, m = align_face(rgb, f.landmarks)
    assert crop.shape == (218, 178, 3)
    pts = transform_points(five_points(f.landmarks), m)
    assert np.abs(pts[:2] - CELEBA_5PT[:2]).max() < 6.0  # eyes within a few pixels of the template


def test_masks_cover_the_right_regions() -> None:
    rgb = load_rgb("facerec_obama.jpg")
    f = faces_of("facerec_obama.jpg")[0]
    h, w = rgb.shape[:2]
    rs = rsgan_face_mask((h, w), f.landmarks)
    for x, y in f.landmarks[27:68]:
        assert rs[int(round(y)), int(round(x))] == 1.0
    assert rs[int(f.box[1]) - 5, int(f.box[0]) - 5] == 0.0
    sk = skin_mask((h, w), f.mesh)
    nose = f.mesh[1, :2].astype(int)
    assert sk[nose[1], nose[0]] > 0.9
    # the forehead is lowered: the top of the mesh (hairline) is outside the skin mask
    top = f.mesh[10, :2].astype(int)
    assert sk[top[1], top[0]] == 0.0
    person = person_mask(rgb)
    assert person[nose[1], nose[0]] == 1.0
    assert person[5, 5] == 0.0  # the top-left corner is the curtain behind him
