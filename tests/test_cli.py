"""``octref tour``: every figure and the report are written; bad input exits 2 in one line."""

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from octref import cli, cost, frequency, misalignment, receptive_field
from octref.cli import FIGURES, main
from tests.hostile_images import HOSTILE, png_header_only

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
    low, high = map(float, re.search(r"the low part up\(pool\(X\)\) ([\d.]+)%, the high part "
                                     r"X - up\(pool\(X\)\) ([\d.]+)%", report).groups())
    assert low > high + 50  # 86% against 15% at the 38 x 32 px used here
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
    assert stdout.startswith(f"octref tour: wrote 7 figures and report.md to {out}")
    assert stdout.count("\n") == 1


def test_python_dash_m_runs_the_tour_into_a_closed_pipe(tmp_path):
    # The reader of standard output is gone before the closing line (as with
    # `octref tour | head -0`): no BrokenPipeError traceback, the files are written.
    process = subprocess.Popen([sys.executable, "-m", "octref", "tour", "--out", str(tmp_path),
                                "--size", "32", "--alpha", "0.25"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=180) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert "Exception ignored" not in stderr
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


# --------------------------------------------------------------------------- every image

def save_gray(path, image):
    Image.fromarray(np.round(255 * image).astype(np.uint8)).save(path)
    return path


def sections(report):
    return re.findall(r"^## (\d)\. ", report, flags=re.M)


def image_row(report):
    return re.search(r"^\| this image, 4 phases .*\| (.+) \| (.+) \|$", report, flags=re.M).groups()


@pytest.fixture
def no_rendering(monkeypatch):
    """Build every figure but skip rasterising it: the slow part, tested by the full runs."""
    monkeypatch.setattr(Figure, "savefig", lambda self, path, **kwargs: open(path, "wb").close())


@pytest.mark.parametrize("name, pool, strided", [
    ("ramp", "(undefined, +0.000)", "(undefined, +0.500)"),
    ("grating", "(+0.000, +0.000)", "(+0.500, +0.500)"),
])
def test_the_whole_tour_on_simple_images(capsys, tmp_path, no_rendering, name, pool, strided):
    path = save_gray(tmp_path / f"{name}.png", HOSTILE[name]())
    assert main(["tour", "--image", str(path), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 9
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert sections(report) == list("1234567")
    assert image_row(report) == (pool, strided)
    if name == "ramp":
        assert "a row shift cannot be seen" in report


@pytest.mark.parametrize("name, pool, strided, why, render", [
    ("checkerboard", "undefined", "undefined", "no content survives to be located", True),
    ("half", "(undefined, +0.000)", "(undefined, +0.500)", "a row shift cannot be seen", False),
])
def test_the_whole_tour_on_images_that_leave_a_shift_undefined(
        capsys, monkeypatch, tmp_path, name, pool, strided, why, render):
    # These crashed after step 4 with "the maps have no energy at low frequencies".
    # The checkerboard, where every shift is undefined, also renders each figure.
    if not render:
        monkeypatch.setattr(Figure, "savefig", lambda self, path, **kw: open(path, "wb").close())
    path = save_gray(tmp_path / f"{name}.png", HOSTILE[name]())
    assert main(["tour", "--image", str(path), "--out", str(tmp_path)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    for figure in FIGURES:
        assert (tmp_path / figure).is_file()
        assert not render or (tmp_path / figure).read_bytes()[:8] == PNG_SIGNATURE
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert sections(report) == list("1234567")
    assert image_row(report) == (pool, strided)
    assert why in report


def test_each_finding_is_computed_once_and_alpha_minus_zero_is_zero(monkeypatch, tmp_path,
                                                                      no_rendering):
    calls = {}

    def counted(module, name):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            calls[name] = calls.get(name, 0) + 1
            return original(*args, **kwargs)
        monkeypatch.setattr(module, name, wrapper)

    for module, name in ((misalignment, "image_shifts"), (misalignment, "impulse_shifts"),
                         (misalignment, "edge_shifts"), (frequency, "octave_bands"),
                         (frequency, "filter_responses"), (frequency, "high_part_below_nyquist"),
                         (receptive_field, "receptive_field"), (cost, "table1")):
        counted(module, name)
    report = cli.tour(None, -0.0, tmp_path, 32, log=lambda line: None).read_text("utf-8")
    # Once per downsampling mode, once per receptive-field route, once otherwise
    # (the misalignment shifts used to be measured three times).
    assert calls == {"image_shifts": 2, "impulse_shifts": 2, "edge_shifts": 2,
                     "octave_bands": 1, "filter_responses": 1, "high_part_below_nyquist": 1,
                     "receptive_field": 4, "table1": 1}
    assert "alpha = 0." in report and "= -0" not in report and "-0 " not in report


def test_non_utf8_paths_and_a_single_dot(capsys, tmp_path, no_rendering):
    # Bytes that are not UTF-8 in both names: the work used to crash at the end and
    # leave an empty report.md. The dot used to crash the misalignment step.
    image = save_gray(Path(os.fsdecode(bytes(tmp_path) + b"/bad\xff.png")), HOSTILE["dot"]())
    out = os.fsdecode(bytes(tmp_path) + b"/o\xfe")
    assert main(["tour", "--image", str(image), "--out", out]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and len(captured.err.strip().splitlines()) == 9
    assert "o\\xfe" in captured.out
    report = (Path(out) / "report.md").read_text(encoding="utf-8")
    assert "bad\\xff.png" in report and sections(report) == list("1234567")
    assert image_row(report) == ("(+0.000, +0.000)", "(+0.500, +0.500)")


def test_a_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    # In a subprocess with a timeout: the old tour opened the FIFO and hung.
    result = subprocess.run([sys.executable, "-m", "octref", "tour", "--image", str(fifo),
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("octref: error: ") and result.stderr.count("\n") == 1
    assert "not a regular file" in result.stderr


def test_too_large_for_memory_is_refused_before_decoding(capsys, tmp_path, monkeypatch):
    # The tour's default limit is octref's memory limit, set here as a user would.
    monkeypatch.setenv("OCTREF_MEMORY_LIMIT", "2G")
    big = png_header_only(tmp_path / "big.png", 10000, 10000, colour_type=2)
    # At --size 100000 the tour would work on all 10^8 pixels.
    line = one_line_error(capsys, ["tour", "--image", str(big), "--size", "100000",
                                   "--out", str(tmp_path)])
    assert "10000 x 10000 px (H x W)" in line and "--size 100000" in line
    assert re.search(r"needs about 60\.1 GB, more than the limit of 2\.1 GB", line), line
    # Averaged down to 320 px the tour fits, but decoding 10^8 RGB pixels does not.
    line = one_line_error(capsys, ["tour", "--image", str(big), "--out", str(tmp_path)])
    assert re.search(r"decoding it needs about 2\.2 GB, more than the limit of 2\.1 GB", line)
    line = one_line_error(capsys, ["tour", "--image", str(big), "--out", str(tmp_path),
                                   "--max-memory", "0.5"])
    assert "limit of 0.5 GB" in line
    assert not list(tmp_path.glob("*.png"))[1:]  # nothing but the test image itself


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_max_memory_must_be_positive(capsys, tmp_path, value):
    line = one_line_error(capsys, ["tour", "--max-memory", value, "--out", str(tmp_path)])
    assert "--max-memory must be a positive number of GB" in line


def test_sizes_are_written_h_by_w(tour):
    out, _, stderr, _ = tour
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "600 x 512 px (H x W), grayscale, used at 38 x 32 px (H x W)" in report
    assert "600 x 512 px (H x W), used at 38 x 32 px (H x W)" in stderr
    assert not re.search(r"\bthe 1 maps\b|\b1 output channels\b", report)


def test_the_report_teaches_a_fixed_split(tour):
    out, _, _, _ = tour
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "lose least at half resolution go to the low group" not in report
    assert "does not choose which maps go to the low group" in report
    rows = re.findall(r"^\| (.+?) \| [\d.]+% \| (\d): (low|high) ", report, flags=re.M)
    assert [(int(c), g) for _, c, g in rows] == [(1, "high"), (2, "high"), (3, "high"),
                                                 (4, "low"), (5, "low"), (6, "low")]
    assert "Two signs, one fact" in report
    assert "a 2x2 block mean is not an ideal low-pass filter" in report


def test_running_out_of_memory_is_one_line(capsys, monkeypatch, tmp_path):
    # Should the estimate ever fall short, the user still gets one line, not a traceback.
    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(cli.findings, "measure_frequency", exhausted)
    assert main(["tour", "--out", str(tmp_path), "--size", "40"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]  # after the progress line of step 1
    assert last.startswith("octref: error: out of memory") and "--max-memory" in last


def test_octref_train_is_dispatched_to_octref_train(capsys):
    """``octref train`` is the training command; its usage errors are one line, exit 2."""
    assert main(["train", "--epochs", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("octref: error: ") and err.count("\n") == 1 and "epochs" in err
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "train" in capsys.readouterr().out
