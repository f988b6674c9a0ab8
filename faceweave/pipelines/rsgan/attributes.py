"""Attribute edits: ``ATTRIBUTE=VALUE`` assignments (``set_attrs``), checked against a model's attribute names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch

from faceweave.errors import FaceweaveError, ParameterError


def parse_assignments(items: Iterable[str] | Mapping[str, object] | None) -> dict[str, float]:
    """``["Smiling=1", "Eyeglasses=0.5"]`` (or a mapping) → ``{"Smiling": 1.0, ...}``; values must be in [0, 1]."""
    if not items:
        return {}
    pairs: list[tuple[str, object]] = []
    if isinstance(items, Mapping):
        pairs = list(items.items())
    else:
        for it in items:
            name, sep, value = str(it).partition("=")
            if not sep or not name.strip():
                raise ParameterError("set_attrs", it, "expected ATTRIBUTE=VALUE, e.g. Smiling=1")
            pairs.append((name.strip(), value.strip()))
    out: dict[str, float] = {}
    for name, value in pairs:
        try:
            v = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ParameterError("set_attrs", f"{name}={value}", "the value must be a number between 0 and 1") from None
        if not 0.0 <= v <= 1.0 or v != v:
            raise ParameterError("set_attrs", f"{name}={value}", "the value must be between 0 and 1")
        out[str(name)] = v
    return out


def resolve_attributes(names: Sequence[str], set_attrs: Mapping[str, float]) -> dict[int, float]:
    """Attribute name → index in the model's c (case-insensitive); unknown names fail listing the valid ones."""
    if set_attrs and not names:
        raise FaceweaveError("this RSGAN checkpoint was trained without attributes, so none can be set")
    lower = {n.lower(): i for i, n in enumerate(names)}
    out: dict[int, float] = {}
    for name, v in set_attrs.items():
        i = lower.get(name.lower())
        if i is None:
            raise FaceweaveError(f"unknown attribute {name!r}; this checkpoint knows: {', '.join(names)}")
        out[i] = float(v)
    return out


def apply_attributes(c: torch.Tensor, by_index: Mapping[int, float]) -> torch.Tensor:
    """A copy of ``c`` ([B, A]) with the given columns set."""
    c2 = c.clone()
    for i, v in by_index.items():
        c2[:, i] = v
    return c2
