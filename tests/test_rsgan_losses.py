"""Each RSGAN loss (Eq. 1–7) against a hand computation on tiny tensors."""

from __future__ import annotations

import math

import torch

from faceweave.models.rsgan import losses as L


def sig(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def test_paper_weights_are_the_defaults() -> None:
    w = L.RSGANLossWeights()
    assert (w.rec, w.kl, w.adv_g, w.adv_p, w.cls, w.gc, w.beta) == (4000, 1, 20, 30, 1, 50, 0.5)


def test_loss_rec_face_eq1() -> None:
    a = torch.tensor([[[[0.0, 1.0], [0.5, -1.0]]]])  # [1, 1, 2, 2]
    b = torch.tensor([[[[0.5, 1.0], [0.0, 1.0]]]])
    # |0-.5| + 0 + |.5-0| + |-1-1| = 3, mean over 4 pixels
    assert math.isclose(L.loss_rec_face(a, b).item(), 3 / 4)


def test_loss_rec_hair_and_rec_eq2_eq3_weight_background_by_one_minus_beta() -> None:
    a = torch.tensor([[[[1.0, 1.0], [1.0, 1.0]]]])
    b = torch.tensor([[[[0.0, 0.0], [0.5, 1.0]]]])
    m = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])  # left column is background
    # |diff| = 1, 1, .5, 0; weights (1 - .5 m) = .5, 1, .5, 1 → .5 + 1 + .25 + 0 = 1.75, mean over 4
    assert math.isclose(L.loss_rec_hair(a, b, m, beta=0.5).item(), 1.75 / 4)
    assert math.isclose(L.loss_rec(a, b, m, beta=0.5).item(), 1.75 / 4)
    assert math.isclose(L.loss_rec(a, b, m, beta=0.0).item(), 2.5 / 4)
    # mask broadcasts over RGB channels
    a3, b3 = a.repeat(1, 3, 1, 1), b.repeat(1, 3, 1, 1)
    assert math.isclose(L.loss_rec(a3, b3, m).item(), 1.75 / 4)


def test_loss_kl_eq4() -> None:
    mu = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)], [0.0, 0.0]])
    # sample 1: ½(1 + 4 + (1 - 0 - 1) + (4 - log 4 - 1)) ; sample 2: 0 (the prior itself)
    s1 = 0.5 * (1 + 4 + 0 + (4 - math.log(4) - 1))
    assert math.isclose(L.loss_kl(mu, logvar).item(), s1 / 2, rel_tol=1e-6)
    assert L.loss_kl(torch.zeros(3, 0), torch.zeros(3, 0)).item() == 0


def test_loss_kl_matches_torch_distributions() -> None:
    torch.manual_seed(0)
    mu, logvar = torch.randn(4, 5), torch.randn(4, 5)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(4, 5), torch.ones(4, 5))
    ref = torch.distributions.kl_divergence(q, p).sum(1).mean()
    assert torch.allclose(L.loss_kl(mu, logvar), ref, atol=1e-5)


def test_loss_adv_eq5_discriminator_and_generator_sides() -> None:
    real = torch.tensor([2.0, -1.0])
    rec = torch.tensor([0.5, 0.0])
    rand = torch.tensor([-3.0, 1.0])

    def mean(vals):
        return sum(vals) / len(vals)

    want = (
        mean([-math.log(sig(v)) for v in (2.0, -1.0)])
        + mean([-math.log(1 - sig(v)) for v in (0.5, 0.0)])
        + mean([-math.log(1 - sig(v)) for v in (-3.0, 1.0)])
    )
    assert math.isclose(L.loss_adv_g(real, rec, rand).item(), want, rel_tol=1e-6)
    # D_p: the same on patch maps, averaged over patches
    assert math.isclose(
        L.loss_adv_p(
            real.view(2, 1, 1, 1).expand(2, 1, 3, 3),
            rec.view(2, 1, 1, 1).expand(2, 1, 3, 3),
            rand.view(2, 1, 1, 1).expand(2, 1, 3, 3),
        ).item(),
        want,
        rel_tol=1e-6,
    )
    gen = mean([-math.log(sig(v)) for v in (0.5, 0.0)]) + mean([-math.log(sig(v)) for v in (-3.0, 1.0)])
    assert math.isclose(L.loss_adv_gen(rec, rand).item(), gen, rel_tol=1e-6)


def test_loss_cls_eq6_and_gc_eq7() -> None:
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    logits = torch.tensor([[0.0, 2.0], [-1.0, 1.0]])

    def bce(cc, ll):
        tot = 0.0
        for ci, li in zip(cc, ll, strict=True):
            for a, z in zip(ci.tolist(), li.tolist(), strict=True):
                p = sig(z)
                tot += -(a * math.log(p) + (1 - a) * math.log(1 - p))
        return tot / len(cc)  # Σ over attributes, mean over batch

    assert math.isclose(L.loss_cls(c, logits).item(), bce(c, logits), rel_tol=1e-6)
    logits2 = torch.tensor([[3.0, -2.0], [0.5, 0.5]])
    assert math.isclose(L.loss_gc(c, logits, logits2).item(), bce(c, logits) + bce(c, logits2), rel_tol=1e-6)
    empty = torch.zeros(2, 0)
    assert L.loss_cls(empty, empty).item() == 0 and L.loss_gc(empty, empty, empty).item() == 0


def test_loss_region_swap_targets_the_cut_and_paste_and_ignores_the_disputed_band() -> None:
    a = torch.full((1, 1, 2, 2), 1.0)  # face source
    b = torch.full((1, 1, 2, 2), -1.0)  # hair source
    m_a = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])  # a's face: top row
    m_b = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])  # b's face: left column
    bg = torch.tensor([[[[0.0, 0.0], [0.0, 1.0]]]])  # bottom right is background
    # pixel (0,0): face of both → target a; (1,1): face of neither → target b, weight 1 - β; others: no target
    paste = torch.tensor([[[[1.0, 7.0], [-7.0, -1.0]]]])
    assert L.loss_region_swap(paste, a, b, m_a, m_b, bg, beta=0.5).item() == 0.0
    wrong = torch.tensor([[[[-1.0, 0.0], [0.0, 1.0]]]])  # face from b, rest from a
    assert math.isclose(L.loss_region_swap(wrong, a, b, m_a, m_b, bg, beta=0.5).item(), (2 + 0.5 * 2) / 4)
    assert L.RSGANLossWeights().swap == 0.0  # off in the paper's training


def test_loss_attribute_edit_scores_the_edit_against_the_random_target() -> None:
    c_tilde = torch.tensor([[1.0, 0.0]])
    logits = torch.tensor([[2.0, 1.0]])
    want = -(math.log(sig(2.0)) + math.log(1 - sig(1.0)))
    assert math.isclose(L.loss_attribute_edit(c_tilde, logits).item(), want, rel_tol=1e-6)
    assert L.RSGANLossWeights().edit == 0.0


def test_loss_total_is_the_weighted_sum() -> None:
    names = ["rec_face", "rec_hair", "rec", "kl_xf", "kl_xh", "kl_cf", "kl_ch", "adv_g", "adv_p", "cls", "gc"]
    t = {n: torch.tensor(float(i + 1)) for i, n in enumerate(names)}
    w = L.RSGANLossWeights()
    want = 4000 * (1 + 2 + 3) + 1 * (4 + 5 + 6 + 7) + 20 * 8 + 30 * 9 + 1 * 10 + 50 * 11
    assert L.loss_total(t, w).item() == want
