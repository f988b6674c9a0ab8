"""Provenance of outputs: C2PA manifest, XMP tag, watermark, ``faceweave verify`` — on real photos."""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import ASSETS, load_rgb, run_cli
from PIL import Image

from faceweave import api
from faceweave.errors import FaceweaveError
from faceweave.media import provenance as pv
from faceweave.media.provenance import signing
from faceweave.media.provenance import watermark as wm


def _faces(rgb: np.ndarray) -> list:
    return api.analyze(rgb, mesh=False, identity=False)

SRC, DST = "facerec_obama.jpg", "pyfeat_0-f1-su-ph.jpg"


@pytest.fixture(autouse=True)
def _provenance_defaults():
    yield
    pv.settings().enabled = True
    pv.settings().sign_key = pv.settings().sign_cert = None


@pytest.fixture(scope="module")
def swap() -> api.SwapResult:
    return api.swap_picture(ASSETS / SRC, ASSETS / DST)


@pytest.fixture(scope="module")
def written(swap: api.SwapResult, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("prov")
    return {ext: Path(api.save(swap.picture, d / f"out{ext}", (ASSETS / SRC, ASSETS / DST)))
            for ext in (".png", ".jpg")}


def _c2pa_store(path: Path) -> dict:
    import c2pa

    return json.loads(c2pa.Reader(str(path)).json())


def _jpeg(a: np.ndarray, q: int) -> np.ndarray:
    b = io.BytesIO()
    Image.fromarray(a).save(b, "JPEG", quality=q)
    return np.asarray(Image.open(io.BytesIO(b.getvalue())).convert("RGB"))


def _half(a: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(a, (a.shape[1] // 2, a.shape[0] // 2), interpolation=cv2.INTER_AREA)


# ---------------------------------------------------------------- C2PA + XMP
@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_manifest_validates_with_c2pa_reader(written: dict[str, Path], ext: str) -> None:
    import c2pa

    path = written[ext]
    reader = c2pa.Reader(str(path))
    assert reader.get_validation_state() == "Valid"
    store = json.loads(reader.json())
    codes = [s["code"] for s in store.get("validation_status", [])]
    assert codes == ["signingCredential.untrusted"]  # self-signed: valid, but an unknown signer
    m = store["manifests"][store["active_manifest"]]
    actions = next(a for a in m["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"]
    assert actions[0]["action"] == "c2pa.created"
    assert actions[0]["digitalSourceType"].endswith("/compositeSynthetic")
    assert actions[0]["parameters"]["engine"] == "warp"
    # the inputs are named and hashed, never embedded (no ingredient thumbnails)
    want = {hashlib.sha256((ASSETS / n).read_bytes()).hexdigest() for n in (SRC, DST)}
    assert {i["instance_id"].removeprefix("sha256:") for i in m["ingredients"]} == want
    assert all("thumbnail" not in i for i in m["ingredients"])


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_xmp_and_exif_tag_survive_signing(written: dict[str, Path], ext: str) -> None:
    from faceweave.media.provenance.xmp import read_digital_source_type

    assert read_digital_source_type(written[ext]).endswith("/compositeSynthetic")
    assert pv.is_marked(written[ext])  # the PNG text / EXIF tag written before XMP and C2PA is still there


def _tamper_png_pixels(src: Path, dst: Path) -> None:
    """Change one byte of the pixel data and rewrite it as one IDAT chunk with a right CRC: a
    well-formed PNG with other pixels, every other chunk (the C2PA manifest too) kept."""
    data = src.read_bytes()
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        chunks.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    raw = bytearray(zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT")))
    width, height = struct.unpack(">II", chunks[0][1][:8])
    stride = len(raw) // height  # filter byte + one row
    raw[stride * (height // 2) + 1 + (stride - 1) // 2] ^= 0x40  # a sample byte, never a filter byte
    out, done = [data[:8]], False
    for kind, body in chunks:
        if kind == b"IDAT":
            if done:
                continue
            kind, body, done = b"IDAT", zlib.compress(bytes(raw)), True
        out.append(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body)))
    dst.write_bytes(b"".join(out))


def test_tampered_pixels_break_the_hard_binding(written: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "tampered.png"
    _tamper_png_pixels(written[".png"], bad)
    assert not np.array_equal(np.asarray(Image.open(bad)), np.asarray(Image.open(written[".png"])))
    rep = api.verify(bad)
    assert rep.manifest.state == "invalid"
    assert rep.manifest.hard_binding_mismatch
    assert any("HARD-BINDING MISMATCH" in line for line in rep.lines())
    assert api.verify(written[".png"]).manifest.hard_binding_mismatch is False


def _flip_inside(data: bytes, start: int, end: int) -> bytes:
    """Flip one low bit of a byte in the middle of data[start:end] (not an 0xFF marker byte nor one after it)."""
    b = bytearray(data)
    i = (start + end) // 2
    while b[i] in (0x00, 0xFF) or b[i - 1] == 0xFF:
        i += 1
    b[i] ^= 0x01
    return bytes(b)


def test_tampered_jpeg_scan_breaks_the_hard_binding(written: dict[str, Path], tmp_path: Path) -> None:
    data = written[".jpg"].read_bytes()
    sos = data.rfind(b"\xff\xda")  # the image's scan: after every APP segment (the C2PA store is in APP11)
    bad = tmp_path / "tampered.jpg"
    bad.write_bytes(_flip_inside(data, sos + 16, data.rfind(b"\xff\xd9")))
    rep = api.verify(bad)
    assert rep.manifest.state == "invalid" and rep.manifest.hard_binding_mismatch
    assert "assertion.dataHash.mismatch" in rep.manifest.failures


def test_learned_engine_is_trained_algorithmic_media(swap: api.SwapResult, tmp_path: Path) -> None:
    from faceweave.engines.base import get_engine

    assert get_engine("warp").learned is False and get_engine("delaunay").learned is False
    from faceweave.engines.rsgan import RSGANEngine

    assert RSGANEngine.learned is True
    pic = swap.picture
    prov = pv.Provenance(engine="rsgan", learned=True, inputs=[("source", str(ASSETS / SRC))])
    out = api.save(api.Picture(rgb=pic.rgb, info={"provenance": prov}), tmp_path / "r.png")
    rep = api.verify(out)
    assert rep.manifest.digital_source_type.endswith("/trainedAlgorithmicMedia")
    assert rep.xmp_digital_source_type.endswith("/trainedAlgorithmicMedia")


def test_harmonized_swap_is_trained_algorithmic_media() -> None:
    """A classical engine followed by the learned harmonizer: a trained network made pixels."""
    res = api.swap_picture(ASSETS / SRC, ASSETS / DST, harmonize=True)
    assert res.picture.info["provenance"].source_type == "trainedAlgorithmicMedia"
    assert api.swap_picture(ASSETS / SRC, ASSETS / DST).picture.info["provenance"].source_type == "compositeSynthetic"


# ---------------------------------------------------------------- signing keys
def test_user_key_is_private_and_reused(tmp_path: Path, written: dict[str, Path]) -> None:
    d = tmp_path / "cfg"
    first = signing.user_identity(d)
    assert (d / signing.KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert (d / signing.CERT_FILE).stat().st_mode & 0o777 == 0o600
    assert d.stat().st_mode & 0o777 == 0o700
    assert signing.user_identity(d).key_pem == first.key_pem  # made once, then reused
    assert "PRIVATE" not in repr(first)
    # the key used for the outputs lives in the (test) config dir and never in an output
    key = (signing.config_dir() / signing.KEY_FILE).read_bytes()
    body = b"".join(key.splitlines()[1:-1])
    for p in written.values():
        assert body not in p.read_bytes()


def test_user_supplied_key_and_bad_key(tmp_path: Path) -> None:
    d = tmp_path / "mine"
    signing.make_user_identity(d)
    pv.configure(sign_key=str(d / signing.KEY_FILE), sign_cert=str(d / signing.CERT_FILE))
    out = api.save(api.Picture(rgb=load_rgb(DST)), tmp_path / "o.jpg")
    assert api.verify(out).manifest.state == "valid"
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(FaceweaveError, match="--sign-key"):
        pv.configure(sign_key=str(bad), sign_cert=str(d / signing.CERT_FILE))
    with pytest.raises(FaceweaveError, match="go together"):
        pv.configure(sign_key=str(d / signing.KEY_FILE))


# ---------------------------------------------------------------- watermark
def test_watermark_only_inside_the_face_and_invisible(swap: api.SwapResult) -> None:
    pv.configure(enabled=False)
    plain = api.swap_picture(ASSETS / SRC, ASSETS / DST).picture.rgb
    target = load_rgb(DST)
    marked = swap.picture.rgb
    region = pv.changed_region(plain, target)  # the swapped face (holes closed, edge eroded)
    assert np.array_equal(marked[~region], plain[~region])  # the mark touches nothing outside it …
    untouched = ~(region | (plain != target).any(axis=2))
    assert untouched.mean() > 0.5 and np.array_equal(marked[untouched], target[untouched])  # … the rest is the target
    assert not np.array_equal(marked, plain)  # the mark is there …
    assert wm.psnr(marked, plain, region) >= 40.0  # … and invisible (PSNR inside the face)
    assert not wm.detect(plain, _faces(plain))  # the unmarked swap carries no mark
    hits = wm.detect(marked, _faces(marked))
    assert len(hits) == 1 and hits[0].z >= wm.Z_THRESHOLD
    assert hits[0].payload_id in (None, swap.picture.info["provenance"].watermark_id)  # never a wrong id


@pytest.mark.parametrize("src,dst", [(SRC, DST), ("facerec_biden.jpg", "pyfeat_15-f13-anc-ph.jpg"),
                                     ("pyfeat_0-f15-hao-ph.jpg", "facerec_obama.jpg")])
def test_watermark_survives_jpeg75_and_half_size(src: str, dst: str) -> None:
    res = api.swap_picture(ASSETS / src, ASSETS / dst)
    pid = res.picture.info["provenance"].watermark_id
    attacked = _jpeg(_half(res.picture.rgb), 75)
    hits = wm.detect(attacked, _faces(attacked))
    assert len(hits) == 1 and hits[0].payload_id in (None, pid)


def test_no_watermark_in_untouched_photos() -> None:
    for name in ("facerec_obama.jpg", "faceapi_sample2.jpg", "pyfeat_single_face.jpg"):
        assert wm.detect(load_rgb(name), _faces(load_rgb(name))) == []


def test_payload_coding() -> None:
    bits = wm.encode_payload(0xABCDE)
    assert len(bits) == wm.CODE_BITS and wm.decode_payload(bits) == (wm.FORMAT_VERSION, 0xABCDE)
    soft = bits * 2.0 - 1
    soft[30] *= -0.1  # one weak wrong bit: corrected by the soft decoder
    assert wm.chase_decode(soft) == ((wm.FORMAT_VERSION, 0xABCDE), 1)
    soft[3] *= -0.1  # two: refused (an id is only reported when one flip at most explains the read)
    assert wm.chase_decode(soft) is None
    bad = bits.copy()
    bad[35] ^= 1
    assert wm.decode_payload(bad) is None  # one hard error: the CRC refuses it
    other = wm.encode_payload(0xABCDE, version=wm.FORMAT_VERSION + 1)
    assert wm.decode_payload(other) is None  # a valid word of another format version is not read as this one


# ---------------------------------------------------------------- video
def test_mp4_gets_manifest_and_marked_frames(tmp_path: Path) -> None:
    import av

    clip = tmp_path / "short.mp4"
    with av.open(str(ASSETS / "pyfeat_single_face.mp4")) as inp, av.open(str(clip), "w") as out:
        v = out.add_stream("libx264", rate=30)
        v.width, v.height, v.pix_fmt = 640, 360, "yuv420p"
        for i, fr in enumerate(inp.decode(video=0)):
            if i == 6:
                break
            out.mux(v.encode(av.VideoFrame.from_ndarray(fr.to_ndarray(format="rgb24"), format="rgb24")))
        out.mux(v.encode(None))
    dst = tmp_path / "swapped.mp4"
    api.swap_video(ASSETS / SRC, clip, dst)
    store = _c2pa_store(dst)
    assert [s["code"] for s in store.get("validation_status", [])] == ["signingCredential.untrusted"]
    rep = api.verify(dst)
    assert rep.kind == "video" and rep.manifest.state == "valid" and rep.synthetic
    assert rep.watermark_found  # survives H.264 (crf 18)
    assert rep.watermark[0].payload_id in (None, int(rep.manifest.watermark_id, 16))
    # XMP DigitalSourceType in the top-level XMP uuid box, covered by the C2PA BMFF hash
    assert rep.xmp_digital_source_type.endswith("/compositeSynthetic")
    assert "  XMP DigitalSourceType: compositeSynthetic" in rep.lines()
    with av.open(str(dst)) as c:  # the extra box does not disturb a player
        assert c.streams.video[0].frames == 6
    data = bytearray(dst.read_bytes())
    i = data.rfind(b"compositeSynthetic")
    assert data.rfind(b"\xbe\x7a\xcf\xcb") < i  # the last copy is the XMP packet's, not the manifest's
    data[i + 17] ^= 0x20  # compositeSynthetiC: the XMP was changed after signing
    bad = tmp_path / "xmp-tampered.mp4"
    bad.write_bytes(bytes(data))
    rep = api.verify(bad)
    assert rep.manifest.hard_binding_mismatch and rep.xmp_digital_source_type.endswith("SynthetiC")
    clean = dst.read_bytes()  # and one byte of the coded frames (the mdat box) changed: the pixels changed
    mdat = clean.find(b"mdat")
    (size,) = struct.unpack(">I", clean[mdat - 4:mdat])
    bad.write_bytes(_flip_inside(clean, mdat + 4 + size // 2, mdat - 4 + size))
    rep = api.verify(bad)
    assert rep.manifest.state == "invalid" and "assertion.bmffHash.mismatch" in rep.manifest.failures


# ---------------------------------------------------------------- CLI
def test_verify_cli_exit_codes(written: dict[str, Path], tmp_path: Path) -> None:
    r = run_cli("verify", written[".jpg"], "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)[0]
    assert rep["synthetic"] and rep["manifest"]["state"] == "valid" and rep["watermark"]["found"]
    r = run_cli("verify", ASSETS / DST)
    assert r.returncode == 1 and "no synthetic mark found" in r.stdout
    r = run_cli("verify", tmp_path / "missing.jpg")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no such file" in r.stderr


def test_no_provenance_is_logged_and_leaves_no_marks(tmp_path: Path) -> None:
    out = tmp_path / "plain.png"
    r = run_cli("swap", ASSETS / SRC, ASSETS / DST, "-o", out, "--no-provenance")
    assert r.returncode == 0, r.stderr
    assert "without provenance" in r.stderr.lower() and "research" in r.stderr
    rep = api.verify(out)
    assert not rep.synthetic and rep.manifest.state == "absent" and not rep.watermark_found
    assert os.listdir(tmp_path) == ["plain.png"]  # no leftover temporary file
