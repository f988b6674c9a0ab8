"""RSGAN dataset builder (Fig. 3) and RSGANDataset, on real photos from tests/assets."""

from __future__ import annotations

import argparse
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from faceweave.analysis import analyze
from faceweave.analysis.align import align_face, transform_points
from faceweave.analysis.landmarks import INNER_FACE
from faceweave.data.builder import (
    FACE_BOX,
    HAIR_BOX,
    SAMPLE_KEYS,
    TEMPLATE_SIZE,
    build_dataset,
    build_sample,
    flip_sample,
    split_of,
)
from faceweave.data.cli import add_build_dataset_args, run_build_dataset
from faceweave.data.dataset import RSGANDataset
from faceweave.errors import FaceweaveError
from faceweave.media import read_image

ASSETS = Path(__file__).parent / "assets"
GROUP = "faceapi_sample1.jpg"
PORTRAIT = "pyfeat_0-f1-su-ph.jpg"
SIZE = 64  # small output side keeps the test fast; the pipeline is the same at 128


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("src")
    shutil.copy(ASSETS / GROUP, d / GROUP)
    (d / "sub").mkdir()
    shutil.copy(ASSETS / PORTRAIT, d / "sub" / PORTRAIT)
    (d / "broken.jpg").write_bytes((ASSETS / PORTRAIT).read_bytes()[:300])  # truncated JPEG
    (d / "notes.txt").write_text("not a photo")
    return d


@pytest.fixture(scope="module")
def built(src: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("out") / "ds"
    summary = build_dataset(src, out, size=SIZE, workers=1, shard_inputs=1, preview=2, progress=False)
    return out, summary


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def portrait_sample() -> tuple[dict[str, np.ndarray], np.ndarray]:
    rgb = read_image(ASSETS / PORTRAIT).rgb
    face = analyze(rgb, mesh=False, identity=False)[0]
    aligned, m = align_face(rgb, face.landmarks, TEMPLATE_SIZE)
    lm = transform_points(face.landmarks, m)
    return build_sample(aligned, lm, 128), lm


def test_counts_equal_faces_found(src: Path, built: tuple[Path, object]) -> None:
    out, summary = built
    per_source = Counter(r["source"] for r in _manifest(out))
    for rel in (GROUP, f"sub/{PORTRAIT}"):
        n_faces = len(analyze(read_image(src / rel).rgb, mesh=False, identity=False))
        assert per_source[rel] == n_faces
    assert per_source[GROUP] == 3 and per_source[f"sub/{PORTRAIT}"] == 1  # 3 people in the group photo
    assert summary.samples == sum(per_source.values())


def test_corrupt_photo_is_a_failure_and_the_rest_is_built(built: tuple[Path, object]) -> None:
    out, summary = built
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert [f["source"] for f in failures] == ["broken.jpg"]
    assert "broken.jpg" in failures[0]["reason"] and "\n" not in failures[0]["reason"]
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["inputs"] == 3 and meta["failures"] == 1 and meta["samples"] == summary.samples > 0
    assert (out / "preview.png").stat().st_size > 0


def test_sample_shapes_and_dtypes(portrait_sample: tuple[dict[str, np.ndarray], np.ndarray]) -> None:
    s, _ = portrait_sample
    for k in ("x", "x_f", "x_h"):
        assert s[k].shape == (128, 128, 3) and s[k].dtype == np.uint8
    for k in ("m_bg", "m_face"):
        assert s[k].shape == (128, 128) and s[k].dtype == np.uint8
        assert set(np.unique(s[k])) <= {0, 255}


def test_face_mask_covers_landmarks_and_background_is_not_face(
    portrait_sample: tuple[dict[str, np.ndarray], np.ndarray],
) -> None:
    s, lm = portrait_sample
    for box, mask in ((HAIR_BOX, s["m_face"]), (FACE_BOX, s["x_f"].any(axis=2))):
        x0, y0, w, h = box
        p = np.round((lm[INNER_FACE] - (x0, y0) + 0.5) * (128 / w, 128 / h) - 0.5).astype(int)
        assert len(p) == 41 and ((p >= 0) & (p < 128)).all()
        assert mask[p[:, 1], p[:, 0]].all(), "a landmark of the 41 lies outside the face mask"
    face = s["m_face"] > 0
    assert face.mean() > 0.1
    assert (s["m_bg"][face] == 0).all()
    assert s["m_bg"].mean() > 0  # the studio backdrop is background


def test_hair_image_is_zero_inside_face_mask(portrait_sample: tuple[dict[str, np.ndarray], np.ndarray]) -> None:
    s, _ = portrait_sample
    face = s["m_face"] > 0
    assert (s["x_h"][face] == 0).all()
    assert (s["x_h"][~face] == s["x"][~face]).all()
    f = flip_sample(s)
    assert (f["x_h"][f["m_face"] > 0] == 0).all() and (f["x"] == s["x"][:, ::-1]).all()


def test_same_input_gives_byte_identical_shards(src: Path, built: tuple[Path, object], tmp_path: Path) -> None:
    out, _ = built
    again = build_dataset(src, tmp_path / "again", size=SIZE, workers=2, shard_inputs=1, progress=False)
    assert again.shards_built == 3
    for name in ("manifest.jsonl", "failures.jsonl", "dataset.json"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    for p in sorted((out / "shards").iterdir()):
        assert (tmp_path / "again" / "shards" / p.name).read_bytes() == p.read_bytes(), p.name


def test_resume_skips_finished_shards(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    first = build_dataset(src, out, size=SIZE, shard_inputs=1, progress=False)
    assert (first.shards_built, first.shards_skipped) == (3, 0)
    shards = sorted((out / "shards").glob("*.npz"))
    kept = {p.name: p.stat().st_mtime_ns for p in shards[1:]}
    shards[0].unlink()  # as if the build had been interrupted in this shard
    second = build_dataset(src, out, size=SIZE, shard_inputs=1, progress=False)
    assert (second.shards_built, second.shards_skipped) == (1, 2)
    assert {p.name: p.stat().st_mtime_ns for p in shards[1:]} == kept
    assert second.samples == first.samples
    third = build_dataset(src, out, size=SIZE + 8, shard_inputs=1, progress=False)  # other config: rebuilt
    assert third.shards_built == 3


def test_dataset_contract(built: tuple[Path, object]) -> None:
    out, summary = built
    rows = _manifest(out)
    total = 0
    for split in ("train", "val", "test"):
        ds = RSGANDataset(out, split=split)
        assert len(ds) == sum(r["split"] == split for r in rows)
        total += len(ds)
    assert total == summary.samples
    ds = RSGANDataset(out, split="all", flip=True)
    assert ds.size == SIZE and ds.attribute_names == []
    item = ds[0]
    assert set(item) == {"x", "x_f", "x_h", "m_bg", "c"}
    for k in ("x", "x_f", "x_h"):
        assert item[k].shape == (3, SIZE, SIZE) and item[k].dtype == torch.float32
        assert 0.0 <= float(item[k].min()) and float(item[k].max()) <= 1.0
    assert item["m_bg"].shape == (1, SIZE, SIZE) and item["m_bg"].dtype == torch.float32
    assert item["c"].shape == (0,) and item["c"].dtype == torch.float32
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=len(ds))))
    assert batch["x"].shape == (len(ds), 3, SIZE, SIZE) and batch["c"].shape == (len(ds), 0)
    # stored arrays and tensors agree; the face mask keeps x_h at 0
    plain = RSGANDataset(out, split="all", face_mask=True)
    a, t = plain.read_arrays(1), plain[1]
    assert torch.equal(t["x"], torch.from_numpy(a["x"]).permute(2, 0, 1).float() / 255)
    assert float(t["x_h"][:, t["m_face"][0] > 0].abs().max()) == 0.0


def test_celeba_mode(tmp_path: Path) -> None:
    """A CelebA-shaped folder: already aligned photos, 40-label file (−1/1), official partition."""
    from faceweave.media import write_image

    src = tmp_path / "celeba"
    (src / "img_align_celeba").mkdir(parents=True)
    rgb = read_image(ASSETS / GROUP).rgb
    faces = analyze(rgb, mesh=False, identity=False)[:2]
    for i, f in enumerate(faces):
        crop, _ = align_face(rgb, f.landmarks, TEMPLATE_SIZE)
        write_image(src / "img_align_celeba" / f"{i + 1:06d}.jpg", crop, synthetic=False)
    names = [f"Attr_{k}" for k in range(40)]
    labels = [[1 if (k + i) % 3 == 0 else -1 for k in range(40)] for i in range(3)]
    lines = ["3", " ".join(names)] + [f"{i + 1:06d}.jpg " + " ".join(f"{v:2d}" for v in labels[i]) for i in range(3)]
    (src / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (src / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 2\n000003.jpg 1\n")
    out = tmp_path / "out"
    summary = build_dataset(src, out, celeba=True, size=SIZE, progress=False)
    assert summary.samples == 2 and summary.failures == 1  # 000003.jpg is listed but missing
    rows = _manifest(out)
    assert [r["split"] for r in rows] == ["train", "test"]
    assert rows[0]["c"] == [1 if v > 0 else 0 for v in labels[0]]
    ds = RSGANDataset(out, split="test")
    assert ds.attribute_names == names and len(ds) == 1
    assert ds[0]["c"].tolist() == [1.0 if v > 0 else 0.0 for v in labels[1]]


def test_bad_input_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(FaceweaveError, match="no such folder"):
        build_dataset(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FaceweaveError, match="no photos found"):
        build_dataset(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(FaceweaveError, match="not a CelebA folder"):
        build_dataset(tmp_path / "empty", tmp_path / "out", celeba=True)
    with pytest.raises(FaceweaveError, match="not a dataset folder"):
        RSGANDataset(tmp_path / "empty")


def test_cli_args_and_split_hash(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_build_dataset_args(parser)
    args = parser.parse_args([str(tmp_path / "nope"), str(tmp_path / "out"), "--size", "64", "--workers", "2"])
    assert (args.size, args.workers, args.celeba, args.preview) == (64, 2, False, 0)
    with pytest.raises(FaceweaveError):
        run_build_dataset(args)
    shares = Counter(split_of(f"photo_{i}.jpg#0") for i in range(4000))
    assert 0.87 < shares["train"] / 4000 < 0.93 and shares["val"] > 120 and shares["test"] > 120
    assert set(SAMPLE_KEYS) >= {"x", "x_f", "x_h", "m_bg", "c"}
