"""``octref tour``: every figure and the report are written; bad input exits 2 in one line."""

import contextlib
import io
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from octref import cost
from octref.cli import FIGURES, main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    """One in-process run on the sample image at 64 px: (out dir, stdout, stderr, status)."""
    out = tmp_path_factory.mktemp("tour") / "nested" / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(["tour", "--out", str(out), "--size", "64"])
    return out, stdout.getvalue(), stderr.getvalue(), status


def test_tour_writes_every_figure(tour):
    out, _, _, status = tour
    assert status == 0
    for name in FIGURES:
        path = out / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE, name
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert image.width >= 800 and image.height >= 400, name


def test_tour_reports_the_measured_numbers(tour):
    out, _, _, _ = tour
    report = (out / "report.md").read_text(encoding="utf-8")
    # Misalignment: impulse, edge and image rows, pool then strided.
    rows = re.findall(r"^\| (impulse|step edge|this image).*\| \((.+)\) \| \((.+)\) \|$", report,
                      flags=re.M)
    assert [r[1:] for r in rows] == [("+0.000, +0.000", "+0.500, +0.500")] * 3
    # Receptive fields, k = 3.
    for route, width in (("H->H", 3), ("L->H", 6), ("H->H->H", 5), ("H->L->H", 10)):
        assert f"| {route} | {width} x {width} | {width} |" in report
    # Frequencies: the low part holds more energy below 0.25 cycles/px than the high part.
    low, high = map(float, re.search(r"up\(pool\(X\)\): ([\d.]+)% .* X - up\(pool\(X\)\): "
                                     r"([\d.]+)%", report).groups())
    assert low > high + 50  # 86% against 12% at the 38 x 32 px used here
    # Cost at alpha = 0.5 (the default): Table 1 values.
    row = re.search(r"^\| 0\.5 \(--alpha\) \| (.*) \|$", report, flags=re.M)[1].split(" | ")
    assert row == ["0.43750", "0.43750", "44%", "0.62500", "0.62500", "63%"]
    assert cost.flops_ratio(0.5) == 0.4375 and cost.memory_ratio(0.5) == 0.625
    # Gradient checks of both implementations.
    for impl in ("im2col", "loops"):
        assert re.search(rf"`{impl}`: (\d+)/\1 passed", report), impl
    assert "FAIL" not in report


def test_tour_shows_progress(tour):
    out, stdout, stderr, _ = tour
    steps = stderr.strip().splitlines()
    assert [int(re.match(r"\[(\d)/9\] ", line)[1]) for line in steps] == list(range(1, 10))
    assert stdout.startswith(f"octref tour: wrote 6 figures and report.md to {out}")
    assert stdout.count("\n") == 1


def test_python_dash_m_runs_the_tour(tmp_path):
    result = subprocess.run([sys.executable, "-m", "octref", "tour", "--out", str(tmp_path),
                             "--size", "32", "--alpha", "0.25"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for name in FIGURES + ("report.md",):
        assert (tmp_path / name).is_file(), name
    assert "| 0.25 (--alpha) |" in (tmp_path / "report.md").read_text(encoding="utf-8")


def one_line_error(capsys, argv):
    status = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert status == 2
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("octref: error: "), err
    return lines[0]


@pytest.mark.parametrize("alpha", ["1.5", "-0.1", "nan", "inf"])
def test_alpha_outside_the_unit_interval(capsys, tmp_path, alpha):
    line = one_line_error(capsys, ["tour", "--alpha", alpha, "--out", str(tmp_path)])
    assert "--alpha must be in [0, 1]" in line


def test_unusable_image(capsys, tmp_path):
    line = one_line_error(capsys, ["tour", "--image", str(tmp_path / "nope.png"),
                                   "--out", str(tmp_path)])
    assert "not found" in line
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8 definitely not a jpeg")
    line = one_line_error(capsys, ["tour", "--image", str(junk), "--out", str(tmp_path)])
    assert "cannot read image" in line
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((8, 40), dtype=np.uint8)).save(tiny)
    line = one_line_error(capsys, ["tour", "--image", str(tiny), "--out", str(tmp_path)])
    assert "at least 16" in line


def test_unwritable_directory(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    line = one_line_error(capsys, ["tour", "--out", str(blocker)])
    assert "not a directory" in line
    line = one_line_error(capsys, ["tour", "--out", str(blocker / "below")])
    assert "cannot write to directory" in line
    assert not list(tmp_path.glob("**/*.png"))


def test_size_too_small(capsys, tmp_path):
    assert "--size must be at least 16" in one_line_error(
        capsys, ["tour", "--size", "8", "--out", str(tmp_path)])


def test_argparse_usage_errors_exit_2_with_one_line(capsys):
    for argv in ([], ["tour", "--alpha", "half"], ["tour", "--size", "big"], ["frobnicate"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert err.count("\n") == 1 and err.startswith("octref: error: "), err


@pytest.mark.parametrize("mode, value", [("L", 0), ("L", 255), ("1", 0), ("RGB", 128)])
def test_uniform_image_is_refused(capsys, tmp_path, mode, value):
    flat = tmp_path / "flat.png"
    Image.new(mode, (64, 48), value if mode != "RGB" else (value,) * 3).save(flat)
    line = one_line_error(capsys, ["tour", "--image", str(flat), "--out", str(tmp_path)])
    assert "uniform" in line


def test_errors_from_the_real_entry_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "octref", "tour", "--image",
                             str(tmp_path / "missing.png"), "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("octref: error: ") and result.stderr.count("\n") == 1
