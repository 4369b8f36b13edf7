"""Lab experiment ``cnn``: on images a CNN beats an MLP; its learned filters and feature maps shown.

Three classifiers are trained on the same images with the same optimizer, batch order and
epoch budget:

* ``cnn`` -- quick: conv3x3 8 > ReLU > max-pool > conv3x3 16 > ReLU > max-pool > linear
  (3,304 parameters on 16x16 images); full: the zoo's ``lab-cnn`` (50,186 parameters);
* ``mlp`` -- one hidden ReLU layer whose width is chosen so that its parameter count is as
  close as possible to the CNN's (:func:`matched_hidden`);
* ``mlp_wide`` -- a much bigger MLP (quick: 256 hidden units, ~20x the CNN's parameters;
  full: 512-256), so that the CNN's win cannot be put down to a starved MLP.

Then a **translation test**: every test image is shifted by ``s`` pixels (zero fill) in one
of the four axis directions, drawn at random per image, and each model's accuracy is
measured against ``s``. Convolution shares its weights across positions and pooling
absorbs small shifts; the MLP has one weight per pixel and has to have seen each pattern at
each place. Finally the CNN's **first-layer filters** are drawn as images, and one test
image's **feature maps** through the first (and second) conv layer.

Every model is trained from several seeds (the same seeds for the three models: the same batch
order). The verdict (:func:`cnn_verdict`) uses the lab's rule (:mod:`nnbasics.lab.stats`) on the
per-seed differences: supported when the CNN's test accuracy beats each MLP's with the 95%
interval above 0; the parameter counts are stated.

Run: ``nnbasics lab cnn [--quick]``; or :func:`train_image_model` / :func:`cnn_verdict` directly.
"""

from __future__ import annotations

import time

import numpy as np

from ..._validate import is_int
from .. import stats
from ..experiment import Experiment, Metrics

__all__ = ["CLAIM", "EXPERIMENT", "NAME", "TITLE", "build_image_model", "cnn_verdict", "feature_maps",
           "first_conv_filters", "matched_hidden", "parameter_count", "run", "settings", "shift_images",
           "train_image_model"]

NAME = "cnn"
TITLE = "CNNs win on images: an MLP against a CNN, the translation test, learned filters and feature maps"
CLAIM = ("On images, a convolutional network beats a fully connected one: \"local connectivity, shared "
         "weights and pooling\" (LeCun et al. 1998) let the same small filters find a pattern wherever it "
         "sits, with far fewer parameters, so the CNN reaches a higher test accuracy than an MLP and suffers "
         "less when the image is shifted. Its first-layer filters learn edge- and stroke-like detectors.")

REFERENCES = (
    ("LeCun, Bottou, Bengio & Haffner (1998). Gradient-based learning applied to document recognition. Proc. IEEE.",
     "http://yann.lecun.com/exdb/publis/pdf/lecun-01a.pdf"),
)

#: sizes of the two modes. ``n_train`` / ``n_test`` None: the lab's default image sizes.
EXPERIMENT = Experiment(
    NAME, TITLE, CLAIM, REFERENCES,
    quick={"n_train": None, "n_test": None, "epochs": 7, "lr": 3e-3, "batch_size": 32, "every": 1, "seeds": 3,
           "cnn": {"kind": "cnn", "channels": [8, 16]}, "mlp_wide_hidden": [256], "shifts": [0, 1, 2, 3, 4]},
    full={"n_train": 20000, "n_test": 5000, "epochs": 6, "lr": 1e-3, "batch_size": 64, "every": 1, "seeds": 3,
          "cnn": {"kind": "lab-cnn"}, "mlp_wide_hidden": [512, 256], "shifts": [0, 1, 2, 3, 4, 6]})
settings = EXPERIMENT.settings


# ------------------------------------------------------------------ models
def _small_cnn(in_channels, num_classes, image_size, channels, rng):
    """conv3x3 c1 > ReLU > pool > conv3x3 c2 > ReLU > pool > flatten > linear (``channels = [c1, c2]``)."""
    from ... import nn

    c1, c2 = (int(c) for c in channels)
    side = int(image_size) // 4
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * side * side, num_classes, rng=rng),
    )


def build_image_model(spec: dict, input_shape, num_classes: int, rng=None):
    """Build one of the experiment's classifiers from a picklable ``spec``.

    Args:
        spec: ``{"kind": "cnn", "channels": [c1, c2]}`` (the small CNN), ``{"kind": "lab-cnn"}``
            (the zoo's lab CNN) or ``{"kind": "mlp", "hidden": [h, ...]}`` (ReLU MLP).
        input_shape: one image's shape ``(C, H, W)`` (H == W).
        num_classes: number of logits.
        rng: Generator, int seed or None (the initial weights).

    Returns:
        nn.Sequential taking ``(N, C, H, W)`` images and returning ``(N, num_classes)`` logits.

    Example:
        >>> net = build_image_model({"kind": "cnn", "channels": [8, 16]}, (1, 16, 16), 8, rng=0)
        >>> parameter_count(net)
        3304
    """
    from ...models.cnn import lab_cnn
    from ...models.mlp import mlp
    from ...rng import as_generator

    if not isinstance(spec, dict) or "kind" not in spec:
        raise ValueError(f"build_image_model: spec must be a dict with a 'kind' ('cnn', 'lab-cnn' or 'mlp'); "
                         f"got {spec!r}.")
    C, H, W = (int(s) for s in input_shape)
    g = as_generator(rng)
    kind = spec["kind"]
    if kind == "cnn":
        if H != W or H < 4:
            raise ValueError(f"build_image_model: the small CNN needs square images of at least 4x4; got {H}x{W}.")
        return _small_cnn(C, num_classes, H, spec.get("channels", [8, 16]), g)
    if kind == "lab-cnn":
        return lab_cnn(in_channels=C, num_classes=num_classes, image_size=[H, W], rng=g)
    if kind == "mlp":
        return mlp(in_features=[C, H, W], hidden=list(spec["hidden"]), out_features=num_classes, activation="relu",
                   rng=g)
    raise ValueError(f"build_image_model: spec['kind'] must be 'cnn', 'lab-cnn' or 'mlp'; got {kind!r}.")


def parameter_count(model) -> int:
    """Number of trainable numbers in ``model``."""
    return int(sum(p.numel() for p in model.parameters()))


def matched_hidden(target_params: int, in_features: int, num_classes: int) -> int:
    """Width h of a one-hidden-layer MLP whose parameter count ``h (D + 1 + C) + C`` is closest to the target.

    Example:
        >>> matched_hidden(3304, 256, 8)   # 12 units: 3,188 parameters
        12
    """
    for name, v in (("target_params", target_params), ("in_features", in_features), ("num_classes", num_classes)):
        if not is_int(v) or v < 1:
            raise ValueError(f"matched_hidden: {name} must be a positive int; got {v!r}.")
    per_unit = in_features + 1 + num_classes
    return max(1, round((target_params - num_classes) / per_unit))


# ------------------------------------------------------------------ measurements
def shift_images(X, shift: int, rng=None, *, directions=None) -> np.ndarray:
    """Shift each image by ``shift`` pixels up, down, left or right (one direction per image), filling with 0.

    Args:
        X: ``(N, C, H, W)`` images.
        shift: pixels (>= 0; 0 returns a copy).
        rng: Generator, int seed or None: the direction of each image.
        directions: optional ``(N,)`` ints in 0..3 (up, down, left, right) instead of drawing them.

    Returns:
        ndarray like X: ``out[n, :, y, x] = X[n, :, y - dy, x - dx]`` where it exists, else 0.

    Example:
        >>> x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
        >>> shift_images(x, 1, directions=[3])[0, 0]   # one pixel to the right
        array([[0., 0., 1.],
               [0., 3., 4.],
               [0., 6., 7.]], dtype=float32)
    """
    from ...rng import as_generator

    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(f"shift_images: X must be (N, C, H, W) images; got shape {X.shape}.")
    if not is_int(shift) or shift < 0:
        raise ValueError(f"shift_images: shift must be an int >= 0 (pixels); got {shift!r}.")
    N, _, H, W = X.shape
    if directions is None:
        directions = as_generator(rng).integers(0, 4, size=N)
    directions = np.asarray(directions, dtype=np.int64)
    if directions.shape != (N,) or directions.min(initial=0) < 0 or directions.max(initial=0) > 3:
        raise ValueError(f"shift_images: directions must be ({N},) ints in 0..3; got shape {directions.shape}.")
    out = np.zeros_like(X)
    s = int(shift)
    if s == 0:
        out[...] = X
        return out
    for d, (dy, dx) in enumerate(((-s, 0), (s, 0), (0, -s), (0, s))):  # up, down, left, right
        sel = directions == d
        if not sel.any():
            continue
        src_y, dst_y = slice(max(0, -dy), H - max(0, dy)), slice(max(0, dy), H - max(0, -dy))
        src_x, dst_x = slice(max(0, -dx), W - max(0, dx)), slice(max(0, dx), W - max(0, -dx))
        if src_y.start < src_y.stop and src_x.start < src_x.stop:
            out[sel, :, dst_y, dst_x] = X[sel][:, :, src_y, src_x]
    return out


def _accuracy(model, X, y) -> float:
    from ...training import evaluate

    return float(evaluate(model, (X, y), batch_size=1024)["accuracy"])


def train_image_model(*, name, spec, X_train, y_train, X_test, y_test, epochs, lr, batch_size, seed, shifts,
                      shift_seed, every=1) -> dict:
    """Train one classifier and run the translation test; a top-level job for ``ctx.map``.

    Args:
        name: the model's label (``"cnn"``, ``"mlp"``, ``"mlp_wide"``).
        spec: see :func:`build_image_model`.
        X_train, y_train, X_test, y_test: ``(N, C, H, W)`` float32 images and int64 labels.
        epochs, lr, batch_size: Adam and cross-entropy settings.
        seed: int: initial weights and batch order. Give every model the same seed: the
            batch order is then identical across models.
        shifts: pixel shifts of the translation test (0 included).
        shift_seed: int: the shift directions (the same for every model).
        every: evaluate train and test every this many epochs.

    Returns:
        dict: ``name``, ``spec``, ``params``, ``curves`` (``epoch``, ``train_loss``, ``train_acc``,
        ``test_loss``, ``test_acc``), ``test_acc`` (final), ``shifts``, ``shift_acc`` (accuracy
        per shift), ``shift_drop`` (accuracy at shift 0 minus at the largest shift),
        ``seconds`` and ``cpu_seconds`` (training and tests), ``model`` (the trained Module).
    """
    from ._tracking import train_tracked

    t0, c0 = time.perf_counter(), time.process_time()
    init_seq, data_seq = np.random.SeedSequence(int(seed)).spawn(2)
    input_shape = tuple(X_train.shape[1:])
    n_classes = int(max(y_train.max(), y_test.max()) + 1)
    model = build_image_model(spec, input_shape, n_classes, rng=np.random.default_rng(init_seq))
    curves = train_tracked(model, (X_train, y_train), (X_test, y_test), epochs=int(epochs), lr=float(lr),
                           batch_size=int(batch_size), rng=np.random.default_rng(data_seq), every=int(every))
    shifts = [int(s) for s in shifts]
    shift_acc = [_accuracy(model, shift_images(X_test, s, rng=int(shift_seed)), y_test) for s in shifts]
    return {"name": str(name), "spec": dict(spec), "params": parameter_count(model), "curves": curves,
            "test_acc": float(curves["test_acc"][-1]), "shifts": shifts, "shift_acc": shift_acc,
            "shift_drop": float(shift_acc[0] - shift_acc[-1]), "seconds": time.perf_counter() - t0,
            "cpu_seconds": time.process_time() - c0, "model": model}


def first_conv_filters(model) -> np.ndarray:
    """The first Conv2d layer's weights ``(out_channels, in_channels, kh, kw)`` as a NumPy copy."""
    from ... import nn

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return np.array(m.weight._array, copy=True)
    raise ValueError(f"first_conv_filters: the model has no Conv2d layer ({type(model).__name__}).")


def feature_maps(model, x) -> list:
    """Each conv block's output for one input: after every ReLU that follows a Conv2d, in order.

    Args:
        model: an ``nn.Sequential`` CNN.
        x: ``(C, H, W)`` or ``(1, C, H, W)`` image.

    Returns:
        list of ndarrays ``(channels, h, w)``, one per conv layer (the rectified maps).

    Example:
        >>> net = build_image_model({"kind": "cnn", "channels": [8, 16]}, (1, 16, 16), 8, rng=0)
        >>> [m.shape for m in feature_maps(net, np.zeros((1, 16, 16), np.float32))]
        [(8, 16, 16), (16, 8, 8)]
    """
    from ... import nn
    from ...autograd import no_grad
    from ...tensor import as_tensor

    if not isinstance(model, nn.Sequential):
        raise TypeError(f"feature_maps: model must be an nn.Sequential CNN; got {type(model).__name__}.")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"feature_maps: x must be one image (C, H, W) or (1, C, H, W); got shape {x.shape}.")
    was_training = model.training
    model.eval()
    maps, after_conv = [], False
    try:
        with no_grad():
            h = as_tensor(x)
            for layer in model:
                h = layer(h)
                if isinstance(layer, nn.Conv2d):
                    after_conv = True
                elif after_conv and isinstance(layer, nn.ReLU):
                    maps.append(np.array(h._array[0], copy=True))
                    after_conv = False
    finally:
        model.train(was_training)
    return maps


def cnn_verdict(results: dict):
    """Does the CNN beat every MLP, beyond the noise? Computed from the per-seed test accuracies.

    For each MLP, the per-seed differences ``cnn - mlp`` (same seeds, same batch order) are
    judged with the lab's rule: the CNN beats it when the 95% interval lies above 0.
    Supported when it beats every MLP; not supported when some MLP beats it (interval below 0);
    inconclusive otherwise.

    Args:
        results: ``{name: {"test_accs": [one per seed], "params": int}}`` with a ``"cnn"`` entry
            and at least one other (MLP) entry, the seeds in the same order.

    Returns:
        (supported: bool | None, because: str, decisions: ``{mlp name: Decision}``)

    Example:
        >>> r = {"cnn": {"test_accs": [0.95, 0.96, 0.94], "params": 3304},
        ...      "mlp": {"test_accs": [0.80, 0.82, 0.81], "params": 3188}}
        >>> cnn_verdict(r)[0]
        True
    """
    if "cnn" not in results or len(results) < 2:
        raise ValueError(f"cnn_verdict: results need a 'cnn' entry and at least one MLP; got keys {sorted(results)}.")
    c = results["cnn"]
    decisions = {k: stats.decide(stats.paired(c["test_accs"], v["test_accs"]), name=f"CNN minus {k}")
                 for k, v in results.items() if k != "cnn"}
    supported = stats.all_of(decisions.values())
    counts = ", ".join(f"{k} {np.mean(v['test_accs']):.3f} with {v['params']:,} parameters"
                       for k, v in results.items())
    lead = {True: "The CNN beat every MLP beyond the noise", False: "The CNN did not beat every MLP",
            None: "Inconclusive: the CNN's lead over an MLP is within the noise"}[supported]
    return supported, (f"{lead}: mean test accuracy {counts}; "
                       + "; ".join(d.sentence() for d in decisions.values()) + "."), decisions


# ------------------------------------------------------------------ figures
def _curves_figure(first):
    from ..plots import line_plot, new_figure

    fig, axes = new_figure(1, 2, width=9.0, height=3.8)
    line_plot({r["name"]: (r["curves"]["epoch"], r["curves"]["test_acc"]) for r in first}, "epoch",
              "test accuracy", "test accuracy per epoch", ax=axes[0, 0])
    line_plot({r["name"]: (r["curves"]["epoch"], r["curves"]["train_loss"]) for r in first}, "epoch",
              "training cross-entropy", "training loss per epoch", logy=True, ax=axes[0, 1])
    fig.tight_layout()
    return fig


def _shift_figure(by_seed, names, shifts):
    from ..plots import SMALL, new_figure, series_style

    fig, axes = new_figure(width=6.5, height=4.0)
    ax = axes[0, 0]
    for i, n in enumerate(names):
        accs = np.array([r["shift_acc"] for r in by_seed[n]])  # (seeds, shifts)
        est = [stats.estimate(accs[:, j]) for j in range(len(shifts))]
        ax.errorbar(shifts, [e.mean for e in est], yerr=[0 if e.n < 2 else e.half_width for e in est], capsize=3,
                    ms=5, label=f"{n} ({by_seed[n][0]['params']:,} params)", **series_style(i))
    ax.set(xlabel="shift (pixels, zero fill, random axis direction per image)", ylabel="test accuracy",
           title="translation test: accuracy of shifted test images")
    ax.set_xticks(shifts)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL)
    fig.tight_layout()
    return fig


def _samples_figure(X, y, shift, seed, class_names):
    from ..plots import image_grid

    classes = np.unique(y)
    idx = [int(np.flatnonzero(y == c)[0]) for c in classes]
    shifted = shift_images(X[idx], shift, rng=seed)
    titles = [class_names[int(c)] for c in classes] + [f"shifted {shift} px" for _ in classes]
    return image_grid(np.concatenate([X[idx], shifted]), titles, ncols=len(classes),
                      title="one test image per class (top) and shifted for the translation test (bottom)")


def _maps_figure(image, maps, k):
    from ..plots import image_grid

    m = maps[k]
    imgs, titles = list(m), [f"channel {i}" for i in range(len(m))]
    if m.shape[1:] == np.asarray(image).shape[1:]:  # same size as the input: show the input first
        imgs, titles = [np.asarray(image)[0], *imgs], ["input", *titles]
    return image_grid(imgs, titles, ncols=min(8, len(imgs)),
                      title=f"one test image through conv layer {k + 1} (+ReLU): {len(m)} feature maps")


# ------------------------------------------------------------------ the experiment
def _describe(spec, D, C):
    if spec["kind"] == "mlp":
        return f"MLP {D} -> {' -> '.join(map(str, spec['hidden']))} -> {C}, ReLU"
    if spec["kind"] == "lab-cnn":
        return ("the zoo's lab-cnn: conv3x3 32 > ReLU > max-pool > conv3x3 64 > ReLU > max-pool > dropout 0.3 "
                f"> linear -> {C}")
    c1, c2 = spec["channels"]
    return f"conv3x3 {c1} > ReLU > max-pool > conv3x3 {c2} > ReLU > max-pool > linear -> {C}"


def _learned(report, cnn_model, X_te, y_te, class_names):
    from ..plots import image_grid

    report.section("What the CNN learned")
    filt = first_conv_filters(cnn_model)  # (O, I, kh, kw)
    report.figure(image_grid(filt[:, 0], [f"filter {i}" for i in range(len(filt))], ncols=min(8, len(filt)),
                             symmetric=True, colorbar_label="weight",
                             title=f"first conv layer: {len(filt)} learned {filt.shape[2]}x{filt.shape[3]} filters"),
                  "filters", "The first layer's filters after training (input channel 0, first seed), on a colour "
                  "scale symmetric around 0 (red positive, blue negative): oriented positive/negative pairs are edge "
                  "and stroke detectors.")
    C = len(class_names)
    k = int(np.flatnonzero(y_te == (C // 2 if (y_te == C // 2).any() else y_te[0]))[0])  # shapes: the plus
    maps = feature_maps(cnn_model, X_te[k])
    for i in range(min(2, len(maps))):
        report.figure(_maps_figure(X_te[k], maps, i), f"feature_maps_conv{i + 1}",
                      f"A test image of class \"{class_names[int(y_te[k])]}\" through conv layer {i + 1} and its "
                      "ReLU: each map lights up where its filter's pattern occurs, wherever that is in the image.")
    Metrics(report)["filters_shape"] = list(filt.shape)


def _record(report, by_seed, specs, decisions, drops, cfg, sizes):
    """The metrics (headline ones labelled) and the findings; ``sizes`` = (training images, test images)."""
    m, n_seeds = Metrics(report), cfg["seeds"]
    mean = {n: float(np.mean([r["test_acc"] for r in by_seed[n]])) for n in specs}
    params = {n: by_seed[n][0]["params"] for n in specs}
    for n in specs:
        m.record(f"{n}_test_acc", mean[n], label=f"{n}: test accuracy (mean over seeds)")
        m[f"{n}_test_accs"] = [r["test_acc"] for r in by_seed[n]]
        m[f"{n}_train_acc"] = float(np.mean([r["curves"]["train_acc"][-1] for r in by_seed[n]]))
        m.record(f"{n}_params", params[n], label=f"{n}: parameters")
        m[f"{n}_shift_acc"] = [float(np.mean([r["shift_acc"][j] for r in by_seed[n]]))
                               for j in range(len(cfg["shifts"]))]
        m.record(f"{n}_shift_drop", float(np.mean(drops[n])),
                 label=f"{n}: accuracy lost to a {max(cfg['shifts'])}-pixel shift")
        m[f"{n}_seconds"] = float(np.mean([r["seconds"] for r in by_seed[n]]))
    for n, d in decisions.items():
        m["effect", f"cnn_minus_{n}"] = d.to_dict()
    best_mlp = max((n for n in specs if n != "cnn"), key=lambda n: mean[n])
    m["best_mlp"] = best_mlp
    m.record("cnn_minus_best_mlp", decisions[best_mlp].estimate.mean,
             label=f"CNN minus the better MLP ({best_mlp}): test accuracy (mean over seeds)")
    for k, v in (("shifts", cfg["shifts"]), ("epochs", cfg["epochs"]), ("n_train", sizes[0]), ("n_test", sizes[1]),
                 ("seeds", n_seeds)):
        m[k] = v
    report.finding(f"The CNN ({params['cnn']:,} parameters) reached {mean['cnn']:.3f} test accuracy; the "
                   f"parameter-matched MLP ({params['mlp']:,}) {mean['mlp']:.3f} and the wide MLP "
                   f"({params['mlp_wide']:,}) {mean['mlp_wide']:.3f} (means over {n_seeds} seeds).")
    less = stats.all_of(stats.decide(stats.paired(drops[n], drops["cnn"])) for n in specs if n != "cnn")
    report.finding(f"Shifting the test images by {max(cfg['shifts'])} pixels cost accuracy: "
                   + ", ".join(f"{n} {stats.estimate(drops[n]).text('.3f')}" for n in specs)
                   + {True: " -- the CNN lost less than every MLP, beyond the noise.",
                      False: " -- the CNN lost MORE than an MLP.",
                      None: " -- whether the CNN lost less is within the noise."}[less])


def _setup(ctx, cfg, report) -> tuple:
    """``(data, arrays, specs, jobs)``: the images, the three models (the MLP sized to the CNN's parameter
    count), and a job per model and seed, each seed shared by the three (the same batch order)."""
    data = ctx.images(n_train=cfg["n_train"], n_test=cfg["n_test"])
    X_tr, y_tr = np.ascontiguousarray(data.X_train, np.float32), np.asarray(data.y_train, np.int64)
    X_te, y_te = np.ascontiguousarray(data.X_test, np.float32), np.asarray(data.y_test, np.int64)
    report.data_note = data.note()
    input_shape, C = tuple(data.input_shape), int(data.num_classes)
    cnn_params = parameter_count(build_image_model(cfg["cnn"], input_shape, C, rng=0))
    specs = {"mlp": {"kind": "mlp", "hidden": [matched_hidden(cnn_params, int(np.prod(input_shape)), C)]},
             "mlp_wide": {"kind": "mlp", "hidden": list(cfg["mlp_wide_hidden"])},
             "cnn": dict(cfg["cnn"])}
    seeds = [ctx.seed_for("cnn", "train", *([r] if r else [])) for r in range(cfg["seeds"])]
    shift_seed = ctx.seed_for("cnn", "shift")
    common = {"X_train": X_tr, "y_train": y_tr, "X_test": X_te, "y_test": y_te, "epochs": cfg["epochs"],
              "lr": cfg["lr"], "batch_size": cfg["batch_size"], "shifts": cfg["shifts"],
              "shift_seed": shift_seed, "every": cfg["every"]}
    report.config.update(settings=cfg, specs=specs, seeds={"train": seeds, "shift": shift_seed})
    jobs = [{"name": name, "spec": spec, "seed": seed, **common} for seed in seeds for name, spec in specs.items()]
    return data, (X_tr, y_tr, X_te, y_te), specs, jobs


def _accuracy_section(report, cfg, by_seed, specs, D, C):
    n_seeds = cfg["seeds"]
    report.text(f"Training: Adam lr {cfg['lr']:g}, batch {cfg['batch_size']}, {cfg['epochs']} epochs, cross-entropy; "
                f"{n_seeds} seeds, each shared by the three models (so the same batch order); test accuracy after the "
                "last epoch. `mlp` is sized to the CNN's parameter count, `mlp_wide` is far bigger on purpose.")
    report.section("Accuracy and parameters")
    report.table(["model", "layers", "parameters", "train acc", "test acc", "train time (s)"],
                 [[n, _describe(by_seed[n][0]["spec"], D, C), by_seed[n][0]["params"],
                   f"{np.mean([r['curves']['train_acc'][-1] for r in by_seed[n]]):.3f}",
                   stats.estimate([r["test_acc"] for r in by_seed[n]]).text(".3f"),
                   f"{np.mean([r['seconds'] for r in by_seed[n]]):.1f}"] for n in specs],
                 caption=f"Train and test accuracy (eval mode) after the last epoch: means over {n_seeds} seeds, test "
                         "accuracy ± the 95% interval's half-width.")
    report.figure(_curves_figure([by_seed[n][0] for n in specs]), "curves",
                  "Test accuracy and training loss per epoch (first seed). The CNN climbs faster and higher with "
                  "fewer parameters.")


def _shift_section(report, cfg, by_seed, specs, drops, X_te, y_te, shift_seed, class_names):
    report.section("Translation test", "Each test image is moved by s pixels up, down, left or right (chosen at "
                   "random per image, the same for every model), the uncovered border filled with 0.")
    report.figure(_samples_figure(X_te, y_te, max(cfg["shifts"]), shift_seed, class_names), "samples",
                  "The data: one test image per class, and the same image shifted by the largest shift tested.")
    report.figure(_shift_figure(by_seed, list(specs), cfg["shifts"]), "translation",
                  f"Accuracy against the shift (mean over {cfg['seeds']} seeds, 95% intervals). Weight sharing and "
                  "pooling make the CNN's features move with the pattern; the MLP's weights are tied to pixel "
                  "positions.")
    report.table(["model"] + [f"shift {s} px" for s in cfg["shifts"]] + ["drop"],
                 [[n] + [f"{np.mean([r['shift_acc'][j] for r in by_seed[n]]):.3f}" for j in range(len(cfg["shifts"]))]
                  + [stats.estimate(drops[n]).text(".3f")] for n in specs],
                 caption="Test accuracy of shifted images (means over seeds); drop = accuracy at shift 0 minus at the "
                         "largest shift, ± the 95% interval's half-width.")


def run(ctx):
    """Run the experiment in ``ctx`` (a :class:`nnbasics.lab.LabContext`); return the Report."""
    cfg, report = EXPERIMENT.begin(ctx)
    data, (_, y_tr, X_te, y_te), specs, jobs = _setup(ctx, cfg, report)
    results = ctx.map(train_image_model, jobs, desc="cnn: models x seeds")                      # sweep
    by_seed = {n: [r for r in results if r["name"] == n] for n in specs}  # in seed order        # measure
    drops = {n: [r["shift_drop"] for r in by_seed[n]] for n in specs}
    supported, because, decisions = cnn_verdict(                                                # verdict
        {n: {"test_accs": [r["test_acc"] for r in by_seed[n]], "params": by_seed[n][0]["params"]} for n in specs})
    D, C = int(np.prod(data.input_shape)), int(data.num_classes)                                # report
    _accuracy_section(report, cfg, by_seed, specs, D, C)
    _shift_section(report, cfg, by_seed, specs, drops, X_te, y_te, jobs[0]["shift_seed"], data.class_names)
    _learned(report, by_seed["cnn"][0]["model"], X_te, y_te, data.class_names)
    _record(report, by_seed, specs, decisions, drops, cfg, (len(y_tr), len(y_te)))
    report.conclude(supported, because, rule=stats.rule_text(cfg["seeds"], quick=ctx.quick))
    return report
