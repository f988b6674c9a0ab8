"""Shared tests parametrised over the engine and model registries: a new engine or model is tested the day
it is registered (as timm does over its models)."""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import pytest
from conftest import faces_of, load_rgb

from faceweave import registry
from faceweave.analysis.align import align_face
from faceweave.analysis.template import CELEBA_SIZE
from faceweave.cli import _engine_options, build_parser
from faceweave.engines.base import Engine, EngineBase, EngineOptions, SwapOptions, engine_classes, get_engine
from faceweave.errors import FaceweaveError

ENGINE_NAMES = list(engine_classes())
MODEL_NAMES = list(registry.MODELS)
SOURCE, TARGET = "facerec_biden.jpg", "facerec_obama.jpg"


def _swap_args(engine: str, *extra: str) -> argparse.Namespace:
    argv = ["swap", "s.jpg", "t.jpg", "-o", "o.png", "--engine", engine, *extra]
    return build_parser(argv).parse_args(argv)


def _flags_of(name: str) -> list[list[str]]:
    """For each flag an engine adds to `faceweave swap`: the tokens that set it."""
    parser = build_parser(["swap"])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["swap"]
    group = next((g for g in sub._action_groups if g.title == f"{name} engine"), None)
    out = []
    for act in group._group_actions if group else []:
        takes_value = act.nargs != 0
        out.append([act.option_strings[-1], *(["A=1"] if takes_value else [])])
    return out


def test_the_registries_are_not_empty() -> None:
    assert {"warp", "delaunay", "rsgan", "aei", "person"} <= set(ENGINE_NAMES)
    assert {n for n in ENGINE_NAMES if _reconstructs(n)} >= {"rsgan", "aei"}
    assert "rsgan-demo" in MODEL_NAMES
    assert [t[0] for t in _flags_of("rsgan")] == ["--gd", "--set"]  # the hooks are wired (--checkpoint is shared)


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_engine_follows_the_protocol(name: str) -> None:
    eng = get_engine(name)
    assert isinstance(eng, Engine)
    assert eng.name == name
    assert isinstance(eng.needs_mesh, bool) and isinstance(eng.learned, bool)
    assert isinstance(eng.timings, dict)
    assert dataclasses.is_dataclass(eng.Options) and issubclass(eng.Options, EngineOptions)
    assert isinstance(eng.options(SwapOptions()), eng.Options)


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_engine_flags_become_its_own_options(name: str) -> None:
    """Defaults of the engine's flags give keyword arguments that its Options accept."""
    kw = _engine_options(_swap_args(name))
    own = get_engine(name).options(SwapOptions(extra=kw))
    fields = {f.name for f in dataclasses.fields(own)}
    assert set(kw) <= fields, (kw, fields)


@pytest.mark.parametrize("owner", ENGINE_NAMES)
def test_an_engines_flags_are_refused_with_another_engine(owner: str) -> None:
    flags = _flags_of(owner)
    others = [n for n in ENGINE_NAMES if n != owner]
    for tokens in flags:
        for other in others:
            with pytest.raises(FaceweaveError, match=f"{tokens[0]} needs --engine {owner}"):
                _engine_options(_swap_args(other, *tokens))


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_engine_swaps_a_real_face_and_leaves_the_rest(name: str) -> None:
    eng = get_engine(name)
    src, dst = load_rgb(SOURCE), load_rgb(TARGET)
    sf, tf = faces_of(SOURCE)[0], faces_of(TARGET)[0]
    out = eng.swap_face(src, sf, dst, tf, SwapOptions())
    assert out.shape == dst.shape and out.dtype == np.uint8
    x0, y0, x1, y1 = (int(v) for v in tf.box)
    assert np.abs(out[y0:y1, x0:x1].astype(int) - dst[y0:y1, x0:x1]).mean() > 2  # the face changed
    far = np.ones(dst.shape[:2], bool)
    w, h = x1 - x0, y1 - y0
    far[max(y0 - h, 0) : y1 + h, max(x0 - w, 0) : x1 + w] = False
    assert np.array_equal(out[far], dst[far])  # nothing far from the face did
    assert eng.timings and all(v >= 0 for v in eng.timings.values())


def _reconstructs(name: str) -> bool:
    """Learned auto-encoders (rsgan, aei) reconstruct; the person net is learned but maps every face to one person."""
    return type(get_engine(name)).reconstruct is not EngineBase.reconstruct


@pytest.mark.parametrize("name", [n for n in ENGINE_NAMES if _reconstructs(n)])
def test_learned_engine_reconstructs_an_aligned_face(name: str) -> None:
    crop, _ = align_face(load_rgb(TARGET), faces_of(TARGET)[0].landmarks, CELEBA_SIZE)
    rec = get_engine(name).reconstruct(crop)
    assert rec.shape == crop.shape and rec.dtype == np.uint8
    assert 0 < np.abs(rec.astype(int) - crop).mean() < 40  # a reconstruction: near, not a copy


@pytest.mark.parametrize("name", [n for n in ENGINE_NAMES if not _reconstructs(n)])
def test_other_engines_refuse_to_reconstruct(name: str) -> None:
    with pytest.raises(FaceweaveError, match="cannot reconstruct"):
        get_engine(name).reconstruct(np.zeros((218, 178, 3), np.uint8))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_card_is_complete_and_its_file_verifies(name: str) -> None:
    card = registry.get(name)
    assert card.name == name
    for f in ("package", "module", "file", "licence", "purpose"):
        assert getattr(card, f).strip(), f
    assert len(card.sha256) == 64 and int(card.sha256, 16) >= 0
    assert card.path().is_file(), card.path()
    assert card.verify()


@pytest.mark.parametrize("name", [n for n in MODEL_NAMES if registry.get(n).env])
def test_model_override_variable_points_at_the_users_file(name: str, tmp_path, monkeypatch) -> None:
    card = registry.get(name)
    mine = tmp_path / "mine.safetensors"
    monkeypatch.setenv(card.env, str(mine))
    assert card.locate() == mine and card.path() != mine  # the registry's own file is unchanged
    monkeypatch.delenv(card.env)
    assert card.locate() == card.path()
