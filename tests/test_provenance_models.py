"""Provenance of learned engines' outputs: the manifest names engine and weights, RSGAN outputs carry the
watermark (swap, edit, sample/interpolate sheets) — on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import ASSETS

from faceweave import api
from faceweave.cli import main as cli_main
from faceweave.engines.base import SwapOptions, get_engine
from faceweave.media import provenance as pv
from faceweave.media.provenance import watermark as wm

SRC, DST = "facerec_obama.jpg", "pyfeat_0-f1-su-ph.jpg"


def _faces(rgb: np.ndarray) -> list:
    return api.analyze(rgb, mesh=False, identity=False)


def _action(path: Path) -> dict:
    rep = api.verify(path)
    assert rep.manifest.state == "valid"
    return rep.manifest.actions[0]


def test_engines_name_their_weights() -> None:
    assert get_engine("warp").model_name(SwapOptions()) == ""
    assert get_engine("rsgan").model_name(SwapOptions()) == "rsgan-demo"
    mine = SwapOptions(extra={"checkpoint": "/runs/r1/my.safetensors"})
    assert get_engine("rsgan").model_name(mine) == "my.safetensors"
    assert get_engine("aei").model_name(SwapOptions()) == "aei-demo"
    assert get_engine("person").model_name(SwapOptions()) == "person pexels_woman"
    prov = api._provenance(get_engine("warp"), (), SwapOptions(), True)
    assert prov.model == "harmonizer harmonizer-demo" and prov.learned  # type: ignore[attr-defined]


def test_rsgan_swap_is_marked_and_manifest_names_the_model(tmp_path: Path) -> None:
    res = api.swap_picture(ASSETS / SRC, ASSETS / DST, engine="rsgan")
    prov = res.picture.info["provenance"]
    hits = wm.detect(res.picture.rgb, _faces(res.picture.rgb))
    assert len(hits) == 1 and hits[0].payload_id == prov.watermark_id
    out = api.save(res.picture, tmp_path / "rsgan.png", (ASSETS / SRC, ASSETS / DST))
    act = _action(Path(out))
    assert act["parameters"] == {"engine": "rsgan", "model": "rsgan-demo"}
    assert act["digitalSourceType"].endswith("/trainedAlgorithmicMedia")


def test_rsgan_edit_cli_output_is_marked(tmp_path: Path) -> None:
    out = tmp_path / "smile.png"
    assert cli_main(["edit", str(ASSETS / DST), "--set", "Smiling=1", "-o", str(out)]) == 0
    rep = api.verify(out)
    assert rep.manifest.state == "valid" and rep.watermark_found
    assert rep.manifest.actions[0]["parameters"]["model"] == "rsgan-demo"
    assert rep.watermark[0].payload_id in (None, int(rep.manifest.watermark_id, 16))  # never another id
    plain = tmp_path / "plain.png"
    try:
        assert cli_main(["edit", str(ASSETS / DST), "--set", "Smiling=1", "-o", str(plain), "--no-provenance"]) == 0
    finally:
        pv.configure(enabled=True)
    assert not api.verify(plain).watermark_found  # the mark comes from faceweave, not from the photo


def test_rsgan_sample_sheet_tiles_are_marked() -> None:
    sheet = api.sample(ASSETS / DST, n=2, sheet=True, watermark_id=0x5A5A5)
    faces = _faces(sheet)
    hits = {h.face_index: h for h in wm.detect(sheet, faces)}
    input_tile = min(faces, key=lambda f: f.box[0])  # the first tile is the input photo's head
    assert input_tile.index not in hits and len(hits) == 2
    assert all(h.payload_id in (None, 0x5A5A5) for h in hits.values())
    assert any(h.payload_id == 0x5A5A5 for h in hits.values())
