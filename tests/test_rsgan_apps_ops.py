"""The RSGAN applications' image plumbing, independent of trained weights (a random tiny model stands in).

Alignment into the model frame matches the dataset builder, paste-back only touches the frame's
region, sheets have the documented size, and attribute assignments are parsed and checked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import faces_of, load_rgb

from faceweave.errors import FaceweaveError
from faceweave.pipelines import rsgan as ops

PHOTO = "facerec_obama.jpg"


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from faceweave.models.rsgan import RSGAN, RSGANConfig

    torch.manual_seed(0)
    model = RSGAN(RSGANConfig.tiny(32, ["Mouth_Slightly_Open", "Smiling"]))
    return model.save_pretrained(tmp_path_factory.mktemp("tiny"), inference_only=True) / "model.safetensors"


def test_prepare_matches_the_dataset_builder() -> None:
    from faceweave.analysis.align import align_face, transform_points
    from faceweave.data.builder import build_sample

    rgb, face = load_rgb(PHOTO), faces_of(PHOTO, False, False)[0]
    al = ops.prepare(rgb, face, 64)
    crop, m = align_face(rgb, face.landmarks)
    sample = build_sample(crop, transform_points(face.landmarks, m), 64, person=np.ones(crop.shape[:2], np.float32))
    assert np.array_equal(al.crop, sample["x"])
    assert np.array_equal(al.face_mask > 0.5, sample["m_face"] > 0)
    # The matrix maps the photo's landmarks to where the crop has them.
    eye = ops.transform_points(face.landmarks[36:42].mean(0, keepdims=True), al.matrix)[0]
    assert 0.25 * 64 < eye[0] < 0.5 * 64 and 0.35 * 64 < eye[1] < 0.6 * 64


def test_paste_back_changes_only_the_region() -> None:
    rgb, face = load_rgb(PHOTO), faces_of(PHOTO, False, False)[0]
    al = ops.prepare(rgb, face, 64)
    grey = np.full_like(al.crop, 128)
    region = ops.region_mask(al, "face")
    for gd in (False, True):
        out = ops.paste_back(rgb, grey, al, region, gd=gd)
        changed = np.any(out != rgb, axis=2)
        assert changed.any()
        # Every changed pixel lies inside the face mask's footprint in the photo.
        foot = ops.warp_to_photo(al.face_mask, al, (0, 0, rgb.shape[1], rgb.shape[0]), 0) > 0
        assert not np.any(changed & ~foot)
    # A residual paste of "no change" leaves the photo as it was.
    same = ops.paste_back(rgb, al.crop, al, region, base=al.crop)
    assert np.abs(same.astype(int) - rgb).max() <= 1


def test_head_view_is_the_crop_at_tile_size() -> None:
    rgb, face = load_rgb(PHOTO), faces_of(PHOTO, False, False)[0]
    al = ops.prepare(rgb, face, 64)
    tile = ops.head_view(rgb, al, 64)
    inside = al.face_mask > 0.5  # (outside the photo the tile is black, the model's crop reflected)
    assert np.abs(tile.astype(float) - al.crop)[inside].mean() < 6


def test_sheet_size() -> None:
    tiles = [np.zeros((20, 20, 3), np.uint8)] * 7
    assert ops.make_sheet(tiles, columns=3).shape[:2] == ops.sheet_shape(7, 20, 3) == (3 * 20 + 4 * 4, 3 * 20 + 4 * 4)


def test_assignments() -> None:
    assert ops.parse_assignments(["Smiling=1", " Mouth_Slightly_Open = 0.25"]) == {
        "Smiling": 1.0, "Mouth_Slightly_Open": 0.25}
    assert ops.parse_assignments({"Smiling": 0}) == {"Smiling": 0.0}
    for bad, msg in (("Smiling", "ATTRIBUTE=VALUE"), ("Smiling=x", "number"), ("Smiling=-0.1", "between 0 and 1"),
                     ("Smiling=nan", "between 0 and 1")):
        with pytest.raises(FaceweaveError, match=msg):
            ops.parse_assignments([bad])
    assert ops.resolve_attributes(["A", "Smiling"], {"smiling": 1.0}) == {1: 1.0}
    with pytest.raises(FaceweaveError, match="knows: A, Smiling"):
        ops.resolve_attributes(["A", "Smiling"], {"Eyeglasses": 1.0})
    with pytest.raises(FaceweaveError, match="without attributes"):
        ops.resolve_attributes([], {"Smiling": 1.0})


def test_operations_run_on_a_random_model(tiny_ckpt: Path) -> None:
    model = ops.load_model(tiny_ckpt)
    rgb, face = load_rgb(PHOTO), faces_of(PHOTO, False, False)[0]
    other, oface = load_rgb("facerec_biden.jpg"), faces_of("facerec_biden.jpg", False, False)[0]
    swapped = ops.swap_faces(model, other, oface, rgb, face, gd=True, set_attrs={"Smiling": 1})
    assert swapped.photos[0].shape == rgb.shape
    res = ops.edit_face(model, rgb, face, {"Smiling": 1.0}, region="both")
    assert res.photos[0].shape == rgb.shape and res.crops[0].shape == (32, 32, 3)
    s1 = ops.sample_parts(model, rgb, face, random="face", n=2, seed=3)
    s2 = ops.sample_parts(model, rgb, face, random="face", n=2, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(s1.photos, s2.photos, strict=True))
    it = ops.interpolate_parts(model, rgb, face, other, oface, part="hair", steps=3)
    assert len(it.photos) == 3
    with pytest.raises(FaceweaveError, match="at least 2"):
        ops.interpolate_parts(model, rgb, face, other, oface, steps=1)


def test_missing_weights_are_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ops.CHECKPOINT_ENV, str(tmp_path / "nothing.safetensors"))
    with pytest.raises(FaceweaveError, match="no RSGAN weights.*--checkpoint"):
        ops.default_checkpoint()
    with pytest.raises(FaceweaveError, match="no such file"):
        ops.load_model(tmp_path / "nope.safetensors")


def test_library_errors_name_parameters_not_flags() -> None:
    """A Python caller reads the parameter it passed; the CLI rewrites it as the flag (test_rsgan_apps)."""
    import faceweave
    from faceweave.errors import ParameterError

    cases = [
        (lambda: faceweave.interpolate("a.jpg", "b.jpg", steps=1), "steps=1: need at least 2"),
        (lambda: faceweave.sample("a.jpg", n=0), "n=0: need at least 1"),
        (lambda: faceweave.sample("a.jpg", random="nose"), "random=nose: choose from face, hair"),
        (lambda: faceweave.edit("a.jpg", ["Smiling=2"]), "set_attrs Smiling=2: the value must be between 0 and 1"),
        (lambda: faceweave.edit("a.jpg", ["Smiling=1"], region="ears"), "region=ears: choose from face, hair, both"),
    ]
    for call, message in cases:
        with pytest.raises(ParameterError) as err:
            call()
        assert str(err.value).startswith(message)
        assert "--" not in str(err.value)
