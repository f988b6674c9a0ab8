"""RSGAN networks: shapes at 64/128/256, attribute-free models, swap semantics, save/load round trips."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from faceweave.errors import FaceweaveError
from faceweave.models.rsgan import NETWORKS, RSGAN, RSGANConfig


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on a shared 2-core CPU two contending threads run these small models far slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def small(size: int, n_attr: int) -> RSGANConfig:
    return dataclasses.replace(RSGANConfig.tiny(size), attribute_names=[f"a{i}" for i in range(n_attr)], patch_levels=3)


@pytest.mark.parametrize("size", [64, 128, 256])
@pytest.mark.parametrize("n_attr", [0, 3])
def test_output_shapes(size: int, n_attr: int) -> None:
    torch.manual_seed(0)
    cfg = small(size, n_attr)
    m = RSGAN(cfg).eval()
    b = 2
    x = torch.rand(b, 3, size, size) * 2 - 1
    c = torch.rand(b, n_attr)
    lat = m.encode(x, c)
    zd = cfg.z_dims
    assert zd["cf"] == zd["ch"] == (cfg.z_attr_face if n_attr else 0)
    for key in ("xf", "cf", "xh", "ch"):
        assert lat.mu[key].shape == lat.logvar[key].shape == lat.z[key].shape == (b, zd[key])
    xf, xh = m.decode_parts(lat.z)
    assert xf.shape == xh.shape == (b, 3, size, size)
    out = m.compose(lat.z["xf"], lat.z["cf"], lat.z["xh"], lat.z["ch"])
    assert out.shape == (b, 3, size, size) and out.abs().max() <= 1
    assert m.d_global(x).shape == (b,)
    dp = m.d_patch(x)
    assert dp.shape[:2] == (b, 1) and dp.shape[2] == dp.shape[3] and 1 < dp.shape[2] < size // 4
    assert m.classify(x).shape == (b, n_attr)
    assert m.reconstruct(x).shape == (b, 3, size, size)
    assert m.swap(x, x.flip(0)).shape == (b, 3, size, size)
    zs = m.sample_prior(b)
    assert {k: v.shape[1] for k, v in zs.items()} == zd


def test_attribute_free_networks_have_no_parameters() -> None:
    m = RSGAN(RSGANConfig.tiny(32))
    groups = m.parameter_groups()
    assert set(groups) == set(NETWORKS)
    assert groups["enc_cf"] == groups["enc_ch"] == groups["classifier"] == []
    assert all(groups[k] for k in ("enc_xf", "enc_xh", "dec_f", "dec_h", "composer", "d_global", "d_patch"))


def test_encoders_read_the_attribute_vector() -> None:
    torch.manual_seed(0)
    m = RSGAN(small(32, 2)).eval()
    x = torch.rand(1, 3, 32, 32)
    a = m.encode(x, torch.tensor([[0.0, 0.0]])).mu
    b = m.encode(x, torch.tensor([[1.0, 0.0]])).mu
    for key in ("xf", "xh", "cf", "ch"):
        assert not torch.allclose(a[key], b[key]), key


def test_swap_is_face_of_x1_with_hair_of_x2_using_classifier_attributes() -> None:
    torch.manual_seed(0)
    m = RSGAN(small(32, 2)).eval()
    x1, x2 = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        m1 = m.encode(x1, m.classify(x1)).mu
        m2 = m.encode(x2, m.classify(x2)).mu
        expected = m.compose(m1["xf"], m1["cf"], m2["xh"], m2["ch"])
    got = m.swap(x1, x2)
    assert torch.allclose(got, expected, atol=1e-6)
    assert not torch.allclose(got, m.swap(x2, x1))
    # the classifier's c* (not some label) drives the encoders: changing C changes the swap
    with torch.no_grad():
        m.classifier.head.bias += 3.0
    assert not torch.allclose(m.swap(x1, x2), got)


def test_reconstruct_uses_posterior_means() -> None:
    torch.manual_seed(0)
    m = RSGAN(small(32, 1)).eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(m.reconstruct(x), m.reconstruct(x))  # deterministic: no sampling
    mu = m.encode(x).mu
    assert torch.allclose(m.reconstruct(x), m.compose(mu["xf"], mu["cf"], mu["xh"], mu["ch"]), atol=1e-6)


def test_wrong_input_shape_is_a_user_error() -> None:
    m = RSGAN(RSGANConfig.tiny(32)).eval()
    with pytest.raises(FaceweaveError):
        m.reconstruct(torch.zeros(1, 3, 64, 64))


def test_save_load_roundtrip_identical(tmp_path) -> None:
    torch.manual_seed(0)
    m = RSGAN(small(32, 2))
    with torch.no_grad():  # non-trivial BN running stats
        m.train()
        m.composer(*[torch.randn(4, d) for d in m.config.z_dims.values()])
    m.eval()
    m.save_pretrained(tmp_path / "w")
    assert (tmp_path / "w" / "config.json").is_file()
    m2 = RSGAN.from_pretrained(tmp_path / "w")
    assert m2.config == m.config and m2.config.attribute_names == ["a0", "a1"]
    x1, x2 = torch.rand(3, 3, 32, 32) * 2 - 1, torch.rand(3, 3, 32, 32) * 2 - 1
    assert torch.equal(m.swap(x1, x2), m2.swap(x1, x2))
    assert torch.equal(m.reconstruct(x1), m2.reconstruct(x1))
    assert torch.equal(m.classify(x1), m2.classify(x1))
    # a lone .safetensors file carries its config in the metadata
    m3 = RSGAN.from_pretrained(tmp_path / "w" / "model.safetensors")
    assert torch.equal(m.reconstruct(x1), m3.reconstruct(x1))


def test_fp16_inference_export_is_small_and_close(tmp_path) -> None:
    torch.manual_seed(0)
    m = RSGAN(RSGANConfig.demo(["Male", "Smiling"])).eval()
    out = m.save_pretrained(tmp_path / "demo", dtype=torch.float16, inference_only=True)
    size_mb = (out / "model.safetensors").stat().st_size / 2**20
    assert size_mb <= 10.0
    m2 = RSGAN.from_pretrained(out)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert (m.reconstruct(x) - m2.reconstruct(x)).abs().max() < 2e-2
    gen = sum(
        p.numel()
        for k in ("enc_xf", "enc_xh", "enc_cf", "enc_ch", "dec_f", "dec_h", "composer")
        for p in getattr(m, k).parameters()
    )
    assert gen <= 5.5e6


def test_from_pretrained_rejects_missing_or_mismatched_weights(tmp_path) -> None:
    with pytest.raises(FaceweaveError):
        RSGAN.from_pretrained(tmp_path / "missing")
    m = RSGAN(dataclasses.replace(RSGANConfig.tiny(32), z_face=8))
    with pytest.raises(FaceweaveError):
        m.load_exported_state(RSGAN(RSGANConfig.tiny(32)).export_state())
