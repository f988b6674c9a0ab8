"""Library errors name the parameter a Python caller passed; the command line names the flag the user typed."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

from faceweave.data.builder import build_dataset
from faceweave.errors import ParameterError


def test_a_library_call_reads_its_parameter(tmp_path: Path) -> None:
    with pytest.raises(ParameterError) as err:
        build_dataset(tmp_path, tmp_path / "out", size=4)
    assert str(err.value) == "size=4: must be at least 8"
    assert err.value.with_flag("--size") == "--size 4: must be at least 8"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("build-dataset", "{tmp}", "{tmp}/out", "--size", "4"), "--size 4: must be at least 8"),
        (("build-dataset", "{tmp}", "{tmp}/out", "--shard-inputs", "0"), "--shard-inputs 0: must be at least 1"),
        (("train", "rsgan", "--out", "{tmp}/run", "--data", "{tmp}/none"), "--data {tmp}/none: is not a directory"),
    ],
)
def test_the_command_line_reads_the_flag(tmp_path: Path, args: tuple[str, ...], line: str) -> None:
    r = run_cli(*(a.format(tmp=tmp_path) for a in args))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"faceweave: error: {line.format(tmp=tmp_path)}"]
    assert not (tmp_path / "out").exists() and not (tmp_path / "run").exists()
