"""The converted face networks (faceweave.nets): parity with the original runtimes, crops, losses.

Parity uses tests/assets/nets_reference.npz, written by scripts/convert_face_nets.py: 30 real faces
(uint8 crops from tests/assets, the sample photos and clip frames) and the outputs of the ORIGINAL
runtimes on them (onnxruntime for the faceplugin .onnx files, the TFLite interpreter for the
expo .tflite). No onnx / onnxruntime / TFLite is needed here.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import ASSETS, faces_of, load_rgb

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(ASSETS / "nets_reference.npz") as z:
        return {k: z[k] for k in z.files}


def _x(u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(u8).permute(0, 3, 1, 2).float() / 255.0


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.parametrize("name", ["identity512", "mobilefacenet192"])
def test_identity_nets_match_original_runtime(ref: dict[str, np.ndarray], name: str) -> None:
    from faceweave.nets import load

    x = _x(ref["arcface_uint8"])
    assert len(x) >= 20
    with torch.no_grad():
        batched = load(name)(x).numpy()  # the whole set as one batch: batch > 1 must work
        single = load(name)(x[3:4]).numpy()
    cos = _cos(batched, ref[f"{name}_embedding"])
    assert cos.min() >= 0.999, cos.min()
    assert np.allclose(single[0], batched[3], atol=1e-4)
    # the embedding is an identity, not noise: a face is far nearer its own original than others'
    others = _cos(np.roll(batched, 1, 0), ref[f"{name}_embedding"])
    assert others.max() < 0.9


def test_pose_net_matches_original_runtime(ref: dict[str, np.ndarray]) -> None:
    from faceweave.nets import load

    with torch.no_grad():
        deg = load("pose").angles(_x(ref["face224_uint8"])).numpy()
    err = np.abs(deg - ref["pose_degrees"])
    assert err.max() <= 0.5, err.max()
    assert np.abs(ref["pose_degrees"]).max() > 10  # the set holds turned heads, not only frontal ones


def test_expression_net_matches_original_runtime(ref: dict[str, np.ndarray]) -> None:
    from faceweave.nets import load

    with torch.no_grad():
        logits = load("expression")(_x(ref["face224_uint8"])).numpy()
    assert np.abs(logits - ref["expression_logits"]).max() <= 1e-3


def test_fp24_storage_round_trip() -> None:
    from faceweave.nets.loading import decode_fp24, encode_fp24

    x = torch.tensor([0.0, -0.0, 1.0, -2.5, 3.0e-8, 1234.5678, -7.1e-3])
    y = decode_fp24(encode_fp24(x))
    assert torch.equal(y[:4], x[:4])  # exactly representable values survive
    assert torch.allclose(y, x, rtol=2**-16, atol=0)
    assert not torch.equal(y, x)  # 1234.5678 needs more than 15 mantissa bits


def test_arcface_crop_matches_cv2_and_passes_gradients() -> None:
    from faceweave.analysis.align import arcface_matrix
    from faceweave.nets.align import arcface_crop, image_to_tensor, tensor_to_uint8

    rgb = load_rgb("facerec_obama.jpg")
    lm = faces_of("facerec_obama.jpg", mesh=False, identity=False)[0].landmarks
    img = image_to_tensor(rgb).requires_grad_(True)
    crop = arcface_crop(img, lm[None])
    ref = cv2.warpAffine(rgb, arcface_matrix(lm), (112, 112), flags=cv2.INTER_LINEAR)
    diff = np.abs(tensor_to_uint8(crop)[0].astype(int) - ref.astype(int))
    assert crop.shape == (1, 3, 112, 112)
    assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 3
    crop.sum().backward()
    assert img.grad is not None and (img.grad != 0).sum() > 1000
    # the gradient lands on the face, not elsewhere in the photo
    ys, xs = np.nonzero(img.grad[0].abs().sum(0).numpy())
    assert lm[:, 0].min() - 40 < xs.mean() < lm[:, 0].max() + 40
    assert lm[:, 1].min() - 40 < ys.mean() < lm[:, 1].max() + 40


def test_crops_are_batched_from_one_image() -> None:
    from faceweave.nets.align import arcface_crop, expression_crop, image_to_tensor, pose_crop

    faces = faces_of("faceapi_sample5.jpg", mesh=False, identity=False)
    img = image_to_tensor(load_rgb("faceapi_sample5.jpg"))
    lms = np.stack([f.landmarks for f in faces])
    a, p, e = arcface_crop(img, lms), pose_crop(img, lms), expression_crop(img, lms)
    assert a.shape == (len(faces), 3, 112, 112) and p.shape == e.shape == (len(faces), 3, 224, 224)
    assert not torch.allclose(a[0], a[1])


def _aligned(name: str) -> tuple[torch.Tensor, np.ndarray]:
    from faceweave.nets.align import image_to_tensor

    face = max(faces_of(name, mesh=False, identity=False), key=lambda f: f.area)
    return image_to_tensor(load_rgb(name)), face.landmarks[None]


def test_identity_loss_same_person_lower_and_gradient_reaches_image() -> None:
    from faceweave.nets.align import arcface_crop
    from faceweave.nets.losses import IdentityLoss

    loss = IdentityLoss()
    obama, lo = _aligned("facerec_obama.jpg")
    obama2, lo2 = _aligned("facerec_obama2.jpg")
    biden, lb = _aligned("facerec_biden.jpg")
    obama = obama.requires_grad_(True)
    same = loss(arcface_crop(obama, lo), arcface_crop(obama2, lo2))
    with torch.no_grad():
        diff = loss(arcface_crop(obama2, lo2), arcface_crop(biden, lb))
        diff2 = loss(arcface_crop(obama, lo), arcface_crop(biden, lb))
    assert same < diff and same < diff2
    same.backward()
    assert obama.grad is not None and obama.grad.abs().sum() > 0


def test_perceptual_loss_orders_images_and_passes_gradients() -> None:
    from faceweave.nets.align import expression_crop
    from faceweave.nets.losses import PerceptualLoss

    loss = PerceptualLoss()
    obama, lo = _aligned("facerec_obama.jpg")
    biden, lb = _aligned("facerec_biden.jpg")
    a = expression_crop(obama, lo)
    # the same face re-encoded as a JPEG of quality 30: small pixel change, same content
    u8 = (a[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", u8[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 30])
    jpeg = torch.from_numpy(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].copy()).permute(2, 0, 1)[None] / 255.0
    obama = obama.requires_grad_(True)
    near = loss(expression_crop(obama, lo), jpeg)
    with torch.no_grad():
        far = loss(a, expression_crop(biden, lb))
        zero = loss(a, a)
    assert float(zero) < 1e-8 < float(near.detach()) < float(far)
    near.backward()
    assert obama.grad is not None and obama.grad.abs().sum() > 0


def test_densenet_features_by_name() -> None:
    from faceweave.nets import load

    net = load("expression")
    with torch.no_grad():
        f = net.features(torch.rand(2, 3, 224, 224), ("block1", "transition2", "block3"))
    assert {k: tuple(v.shape) for k, v in f.items()} == {
        "block1": (2, 256, 56, 56), "transition2": (2, 256, 14, 14), "block3": (2, 1024, 14, 14)}
    with pytest.raises(ValueError, match="unknown DenseNet layer"):
        net.features(torch.rand(1, 3, 224, 224), ("conv5_3",))


def test_registry_lists_and_verifies_the_converted_files() -> None:
    from faceweave import registry

    for name in ("faceplugin-identity-512", "mobilefacenet-192", "faceplugin-hopenet-pose",
                 "faceplugin-densenet121-expression"):
        card = registry.get(name)
        assert card.verify(), name
        assert "MIT" in card.licence and "not documented" in card.notes
        assert (card.path().parent / (card.path().stem + ".md")).is_file()


def test_identity512_separates_the_portraits_of_tests_assets() -> None:
    # Obama twice plus six other people: the same-person pair is above every different-person pair.
    from faceweave.nets.infer import cosine

    names = ["facerec_obama.jpg", "facerec_obama2.jpg", "facerec_biden.jpg", "pyfeat_0-f1-su-ph.jpg",
             "pyfeat_0-f15-hao-ph.jpg", "pyfeat_15-f13-anc-ph.jpg", "skimage_astronaut.png", "pyfeat_single_face.jpg"]
    emb = {n: max(faces_of(n, mesh=False, identity=True), key=lambda f: f.area).embedding512 for n in names}
    assert all(e is not None and e.shape == (512,) for e in emb.values())
    same = cosine(emb[names[0]], emb[names[1]])
    diff = [cosine(emb[a], emb[b]) for i, a in enumerate(names) for b in names[i + 1:] if {a, b} != set(names[:2])]
    assert same > 0.5 and max(diff) < 0.3, (same, max(diff))
