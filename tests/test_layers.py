"""The package's layers, read from its own imports (docs/architecture.md).

Inference, bottom to top: geometry (``analysis.template`` and ``analysis.align``: crop templates
and similarity transforms) → media (the watermark is laid out in aligned face coordinates) → nets →
analysis → models → compose → pipelines → engines →
api (and eval) → cli / web / demo; a module may import its own layer or any layer below it. The frozen
networks sit below the rest of analysis because analysis uses them (``Face.embedding512``, tracking).
``errors``, ``registry`` and ``choices`` are the ground every layer stands on. Training (``data``,
``train``) stands beside inference: it may import any inference layer up to ``engines`` (the
harmonizer's training data are real composites made by the warp and delaunay engines), and no
inference module imports it. The command-line module of a feature (``data/cli.py``, ``train/cli.py``,
``eval/cli.py``, ``pipelines/rsgan/cli.py``) belongs to the CLI layer. There are no import cycles, counting
imports inside functions too; the one exception is the lazy ``faceweave.__getattr__`` facade
(``import faceweave; faceweave.swap``), which imports ``faceweave.api`` on first use.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "faceweave"

# Inference layers, bottom first. A module's layer is that of its longest matching prefix.
INFERENCE = [
    ("ground", ("faceweave", "faceweave.errors", "faceweave.registry", "faceweave.choices")),
    ("geometry", ("faceweave.analysis.template", "faceweave.analysis.align")),
    ("media", ("faceweave.media",)),
    ("nets", ("faceweave.nets",)),
    ("analysis", ("faceweave.analysis",)),
    ("models", ("faceweave.models",)),
    ("compose", ("faceweave.compose",)),
    ("pipelines", ("faceweave.pipelines", "faceweave.apps")),
    ("engines", ("faceweave.engines",)),
    ("api", ("faceweave.api", "faceweave.batch", "faceweave.eval", "faceweave.realtime", "faceweave.live")),
    ("cli", ("faceweave.cli", "faceweave.web", "faceweave.demo")),
]
TRAINING = ("faceweave.data", "faceweave.train")
TRAINING_MAY_USE = "engines"  # the highest inference layer training code may import
RANK = {name: i for i, (name, _) in enumerate(INFERENCE)}
FACADE = ("faceweave", "faceweave.api")  # the lazy __getattr__ of faceweave/__init__.py


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


MODULES = _modules()


def _target(name: str) -> str | None:
    """The faceweave module an import names (a submodule if it is one, else its package)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    """Every faceweave module ``module`` imports, at the top or inside functions."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            # `from pkg import sub` names the submodule; `from pkg import name` names the package
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for n in names:
            if n.split(".")[0] == "faceweave":
                t = _target(n)
                if t is not None and t != module:
                    out.add(t)
    return out


def layer_of(module: str) -> str:
    if module.endswith(".cli"):  # a feature's own subcommands (data/cli.py, train/cli.py, ...) are CLI
        return "cli"
    best, best_len = None, -1
    for name, prefixes in INFERENCE:
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = name, len(p)
    for p in TRAINING:
        if (module == p or module.startswith(p + ".")) and len(p) > best_len:
            best, best_len = "training", len(p)
    assert best is not None, module
    return best


def _allowed(src: str, dst: str) -> bool:
    ls, ld = layer_of(src), layer_of(dst)
    if ld == "training":
        return ls in ("training", "cli")
    if ls == "training":
        return RANK[ld] <= RANK[TRAINING_MAY_USE]
    return RANK[ld] <= RANK[ls]


def test_every_module_has_a_layer() -> None:
    assert len(MODULES) > 30
    for m in MODULES:
        layer_of(m)


def test_the_walker_sees_imports_inside_functions() -> None:
    # api imports engines at the top; the CLI imports api only inside its command functions
    assert "faceweave.engines.base" in imports_of("faceweave.api")
    assert "faceweave.api" in imports_of("faceweave.cli")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_only_down_the_layers(module: str) -> None:
    bad = sorted(f"{dst} ({layer_of(dst)})" for dst in imports_of(module)
                 if not _allowed(module, dst) and (module, dst) != FACADE)
    assert not bad, f"{module} ({layer_of(module)}) imports upward or into training: {', '.join(bad)}"


def test_models_do_no_media_io() -> None:
    """Networks, losses and configs only: no photo or video I/O, no face analysis."""
    for m in MODULES:
        if layer_of(m) == "models":
            bad = {d for d in imports_of(m) if layer_of(d) in ("media", "analysis")}
            assert not bad, f"{m} imports {sorted(bad)}"


def test_no_import_cycles() -> None:
    graph = {m: imports_of(m) for m in MODULES}
    graph[FACADE[0]].discard(FACADE[1])
    seen: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(m: str) -> None:
        seen[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if seen.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in seen:
                visit(n)
        stack.pop()
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m)
    assert not cycles, "import cycles: " + "; ".join(" → ".join(c) for c in cycles)


def test_media_suffixes_agree_with_the_choices_module() -> None:
    """media/ keeps its own tuples (its writers predate faceweave.choices); they must not drift apart."""
    from faceweave import choices
    from faceweave.media.image import WRITABLE_SUFFIXES
    from faceweave.media.video import VIDEO_SUFFIXES

    assert set(VIDEO_SUFFIXES) == set(choices.VIDEO_SUFFIXES)
    assert set(WRITABLE_SUFFIXES) == set(choices.IMAGE_SUFFIXES)
    assert set(choices.DATASET_PHOTO_SUFFIXES) <= set(choices.IMAGE_SUFFIXES)
