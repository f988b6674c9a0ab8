"""`faceweave eval` end to end on sample photos: every report file, failures recorded, known answers."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceweave.engines.base import _INSTANCES, ENGINES, EngineBase, engine_names, register_engine
from faceweave.eval import run as R
from faceweave.eval.cli import add_eval_args, main, run_eval
from faceweave.eval.report import TABLE1_COLUMNS
from faceweave.eval.run import METRICS

ASSETS = Path(__file__).parent / "assets"
PHOTOS = ("facerec_obama.jpg", "facerec_obama2.jpg", "facerec_biden.jpg", "pyfeat_0-f15-hao-ph.jpg")


class _Unchanged(EngineBase):
    """A do-nothing engine: returns the target as is; its reconstruction is perfect."""

    name = "test-unchanged"
    needs_mesh = False
    learned = True

    def swap_face(self, source, source_face, target, target_face, options):  # noqa: ANN001, ANN201
        return target.copy()

    def reconstruct(self, aligned_rgb: np.ndarray, options=None) -> np.ndarray:  # noqa: ANN001
        return aligned_rgb.copy()


class _Broken(EngineBase):
    name = "test-broken"
    needs_mesh = False

    def swap_face(self, source, source_face, target, target_face, options):  # noqa: ANN001, ANN201
        raise RuntimeError("boom")


@pytest.fixture(autouse=True, scope="module")
def _test_engines():
    """Register the two fake engines for this module only (the registry-parametrised tests must not see them)."""
    engine_names()  # load the built-in engines first
    for cls in (_Unchanged, _Broken):
        if cls.name not in ENGINES:
            register_engine(cls.name)(cls)
    yield
    for cls in (_Unchanged, _Broken):
        ENGINES.pop(cls.name, None)
        for key in [k for k in _INSTANCES if k[0] == cls.name]:
            del _INSTANCES[key]


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("photos")
    for name in PHOTOS:
        shutil.copy(ASSETS / name, d / name)
    Image.new("RGB", (320, 240), (128, 128, 128)).save(d / "zz_blank.png")  # no face in it
    return d


def _args(photo_dir: Path, out: Path, engines: str, pairs: int) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_eval_args(p)
    return p.parse_args(
        ["--engine", engines, "--images", str(photo_dir), "--pairs", str(pairs), "--seed", "3",
         "--out", str(out), "--no-progress"]
    )


@pytest.fixture(scope="module")
def report_dir(photo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert run_eval(_args(photo_dir, out, "warp,delaunay,test-unchanged,test-broken", 6)) == 0
    return out


def test_every_report_file(report_dir: Path) -> None:
    for f in ("report.json", "report.md", "contact_sheet.png"):
        assert (report_dir / f).is_file() and (report_dir / f).stat().st_size > 0
    for key in [*METRICS, "success_rate", "retrieval"]:
        assert (report_dir / "plots" / f"{key}.png").is_file(), key
    sheet = np.asarray(Image.open(report_dir / "contact_sheet.png"))
    assert sheet.shape[1] == 192 * 6  # source | target | 4 engines
    from faceweave.media.provenance.xmp import read_digital_source_type

    # test-unchanged declares itself learned, so the sheet is trainedAlgorithmicMedia (else compositeSynthetic)
    assert read_digital_source_type(report_dir / "contact_sheet.png").endswith("/trainedAlgorithmicMedia")
    md = (report_dir / "report.md").read_text()
    for _, header in TABLE1_COLUMNS:
        assert header in md
    for name in ("warp", "delaunay", "test-unchanged", "test-broken"):
        assert f"| {name} |" in md


def test_report_json_content(report_dir: Path) -> None:
    rep = json.loads((report_dir / "report.json").read_text())
    assert len(rep["pairs"]) == 6
    ids = {p["name"]: p["identity"] for p in rep["photos"]}
    assert ids["facerec_obama.jpg"] == ids["facerec_obama2.jpg"] != ids["facerec_biden.jpg"]
    for s, t in rep["pairs"]:
        assert s != t and ids[s] != ids[t]
    for name in ("warp", "delaunay"):
        e = rep["engines"][name]
        s = e["summary"]
        assert s["pairs"] == 6
        blank = sum("zz_blank.png" in p for p in rep["pairs"])
        assert blank > 0  # seed 3 draws the faceless photo: its pairs must be recorded, not fatal
        assert s["succeeded"] == 6 - blank  # only the faceless photo's pairs fail
        assert all(f["stage"] == "analysis" for f in e["failures"])
        assert 0 < s["id_source"]["mean"] < 1.0
        assert 0 < s["swap2_abs"]["mean"] < 0.1 and 0.8 < s["swap2_msssim"]["mean"] <= 1.0
        assert s["recon_abs"]["n"] == 0 and e["reconstruction_skipped"]
        assert s["ms_per_swap"]["mean"] > 0
        # the converted nets' columns: scored on every pair that produced an output
        for key in ("id_source_512", "id_source_192", "pose_error_net"):
            assert s[key]["n"] == s["succeeded"], key
        assert 0 < s["id_source_512"]["mean"] < 2.5 and 0 < s["id_source_192"]["mean"] < 2.5
        assert not any("nets" in m for m in e["metric_errors"])


def test_known_answers_of_a_do_nothing_engine(report_dir: Path) -> None:
    rep = json.loads((report_dir / "report.json").read_text())
    s = rep["engines"]["test-unchanged"]["summary"]
    assert s["swap2_abs"]["mean"] == 0.0 and s["swap2_msssim"]["mean"] == pytest.approx(1.0)
    assert s["id_target"]["mean"] == pytest.approx(0.0, abs=1e-3)  # the "swap" is the target itself
    assert s["pose_error_net"]["mean"] < 1.0  # only landmark re-fit noise moves the crop
    assert s["id_source_512"]["mean"] > 0.5  # target vs a different person's source
    assert s["retrieval"] == 0.0
    assert s["recon_abs"]["mean"] == 0.0 and s["recon_msssim"]["mean"] == pytest.approx(1.0)
    broken = rep["engines"]["test-broken"]
    assert broken["summary"]["success_rate"] == 0.0
    assert any(f["stage"] == "swap" and "boom" in f["reason"] for f in broken["failures"])


def test_pairs_are_seeded_and_capped(photo_dir: Path) -> None:
    photos = [R.Photo(name=f"p{i}", path=photo_dir, identity="a" if i < 2 else f"b{i}") for i in range(4)]
    p1, p2 = R.draw_pairs(photos, 5, seed=7), R.draw_pairs(photos, 5, seed=7)
    assert p1 == p2 and len(set(p1)) == 5
    assert all(photos[i].identity != photos[j].identity for i, j in p1)
    assert len(R.draw_pairs(photos, 100, seed=0)) == 4 * 3 - 2  # all ordered pairs minus the same-identity two


def test_identity_list_file(tmp_path: Path) -> None:
    f = tmp_path / "identity_CelebA.txt"
    f.write_text("000001.jpg 2880\n000002.jpg 2937\n# comment\n")
    assert R.read_identities(f) == {"000001.jpg": "2880", "000002.jpg": "2937"}


def test_cli_errors_are_one_line(photo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--engine", "nope", "--images", str(photo_dir), "--pairs", "2", "--out", str(tmp_path / "r")])
    assert code != 0
    assert "unknown engine" in capsys.readouterr().err
