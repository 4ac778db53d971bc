"""Generative zoo models: qGANs trained by recipe, with sample grids and a card.

Two recipe kinds (``task: generation``):

* ``distribution_qgan``: a :class:`~qkeras.models.DistributionQGAN` loads a discretised
  target (``log-normal`` or ``bimodal``, :mod:`qkeras.models.distributions`) into
  ``qubits`` qubits from ``n_samples`` samples drawn from it (Zoufal et al. 2019).
  Metrics: the relative entropies :math:`D(p_\\theta\\|p)` and :math:`D(p\\|p_\\theta)`
  (exact: the generator's Born distribution is computed, not sampled). Baseline: the
  empirical histogram of the same training samples (``2**qubits - 1`` free parameters).
* ``patch_qgan``: a :class:`~qkeras.models.QuantumGAN` with Huang et al.'s
  :class:`~qkeras.models.PatchQuantumGenerator` makes 8x8 images of a real data set
  (``dataset: digits``, scikit-learn's copy of the UCI handwritten digits, one class; or
  a MedMNIST file downsampled to 8x8). Metric: the maximum mean discrepancy (Gaussian
  kernel, median bandwidth of the held-out images) between generated and held-out real
  images, with a percentile-bootstrap 95% CI. Baseline: a classical generator of about
  the same size (``latent -> Dense(hidden, tanh) -> Dense(64, sigmoid)``) trained by the
  same GAN recipe. References: MMD of uniform noise, of the untrained generator, and of
  real training images against the held-out ones.

:func:`train_generative` writes the GAN (``.keras``), ``metrics.json``, ``card.md`` and
``samples.png``; :func:`evaluate_generative` recomputes the metrics from the released
file (and the data, for images).

Example:
    >>> GENERATIVE_KINDS
    ('distribution_qgan', 'patch_qgan')
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

from qkeras.errors import ConfigurationError, DataError

__all__ = ["GENERATIVE_KINDS", "train_generative", "evaluate_generative", "held_out_images",
           "classical_generator", "mmd_interval"]

log = logging.getLogger(__name__)

GENERATIVE_KINDS = ("distribution_qgan", "patch_qgan")


def classical_generator(image_shape=(8, 8), *, latent_dim: int = 5, hidden: int = 1,
                        seed: int = 0) -> keras.Model:
    """The classical twin of a patch generator: ``Dense(hidden, tanh) -> Dense(sigmoid)``.

    Example:
        >>> classical_generator((8, 8), latent_dim=5, hidden=1).count_params()
        134
    """
    init = keras.initializers.GlorotUniform
    pixels = int(np.prod(image_shape))
    return keras.Sequential([
        keras.Input((latent_dim,)),
        keras.layers.Dense(hidden, activation="tanh", kernel_initializer=init(seed)),
        keras.layers.Dense(pixels, activation="sigmoid", kernel_initializer=init(seed + 1)),
        keras.layers.Reshape(tuple(image_shape)),
    ], name="classical_generator")


def _target(spec: Mapping, qubits: int):
    from qkeras.models import bimodal, lognormal

    options = dict(spec)
    name = options.pop("name", "lognormal")
    builders = {"lognormal": lognormal, "bimodal": bimodal}
    if name not in builders:
        raise ConfigurationError(f"Unknown target {name!r}; use one of {sorted(builders)}.")
    return builders[name](qubits, **options)


def held_out_images(data_spec: Mapping, data=None, *, seed: int = 0):
    """Training and held-out real 8x8 images of a patch-GAN recipe, in [0, 1].

    ``data_spec``: ``{"dataset": "digits", "digit": 0, "held_out": 58}`` (scikit-learn's
    digits of one class, split at random with ``seed``) or a MedMNIST file (``dataset`` or
    ``file``, optional ``label``): its train split (first ``subset.train`` images) to
    train, its test split to hold out, both downsampled to 8x8 (area average, antialiased).

    Returns:
        ``(train, held_out, description)``.

    Example:
        >>> train, held, what = held_out_images({"dataset": "digits", "digit": 0,
        ...                                      "held_out": 58})
        >>> train.shape, held.shape
        ((120, 8, 8), (58, 8, 8))
    """
    if data_spec.get("dataset") == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        digit = int(data_spec.get("digit") or 0)
        images = (digits.images[digits.target == digit] / 16.0).astype(np.float32)
        order = np.random.default_rng(seed).permutation(len(images))
        n_held = int(data_spec.get("held_out") or len(images) // 3)
        return (images[order[n_held:]], images[order[:n_held]],
                f"scikit-learn digits, class {digit} ({len(images)} images)")
    from qkeras.zoo.data import load_splits

    loaded = load_splits({k: v for k, v in data_spec.items() if k in ("dataset", "file")},
                         data)
    label = data_spec.get("label")

    def small(split: str) -> np.ndarray:
        x, y = loaded.images[split], loaded.labels[split]
        if label is not None:
            x = x[y == int(label)]
        if not len(x):
            raise DataError(f"No {split} images with label {label} in {loaded.path.name}.")
        small = tf.image.resize(x, (8, 8), method="area", antialias=True)
        return np.clip(small.numpy()[..., 0], 0.0, 1.0).astype(np.float32)

    train = small("train")
    n_train = (data_spec.get("subset") or {}).get("train")
    if n_train:
        train = train[np.sort(np.random.default_rng(seed).permutation(len(train))[:n_train])]
    return (train, small("test"), f"{loaded.path.name} ({loaded.provenance}, sha256 "
            f"{loaded.sha256[:12]})" + (f", class {label}" if label is not None else ""))


def mmd_interval(generated, held_out, *, bandwidth: float, n_resamples: int = 1000,
                 seed: int = 0, confidence: float = 0.95) -> dict:
    """MMD of two image sets with a percentile-bootstrap interval (both sets resampled).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> r = mmd_interval(rng.random((20, 4)), rng.random((20, 4)), bandwidth=1.0,
        ...                  n_resamples=50)
        >>> r["low"] <= r["value"] <= r["high"]
        True
    """
    from qkeras.models import mmd

    rng = np.random.default_rng(seed)
    x, y = np.asarray(generated), np.asarray(held_out)
    draws = [mmd(x[rng.integers(0, len(x), len(x))], y[rng.integers(0, len(y), len(y))],
                 bandwidth=bandwidth) for _ in range(n_resamples)]
    tail = (1 - confidence) / 2 * 100
    return {"value": mmd(x, y, bandwidth=bandwidth), "low": float(np.percentile(draws, tail)),
            "high": float(np.percentile(draws, 100 - tail)), "confidence": confidence}


def _exact(value: float) -> dict:
    return {"value": float(value), "low": float(value), "high": float(value),
            "confidence": 1.0}


def _distribution(recipe, model_spec: Mapping, out: Path, verbose: int):
    from qkeras.models import DistributionQGAN, QuantumGenerator, relative_entropy

    qubits = int(model_spec.get("qubits", 3))
    values, target = _target(model_spec.get("target", {}), qubits)
    n = int(recipe.data.get("subset", {}).get("train") or 2000)
    samples = np.random.default_rng(recipe.seed).choice(values, size=n, p=target)
    keras.utils.set_random_seed(recipe.seed)
    generator = QuantumGenerator(qubits, layers=int(model_spec.get("layers", 2)),
                                 initializer=keras.initializers.RandomUniform(
                                     -0.1, 0.1, seed=recipe.seed + 1))
    gan = DistributionQGAN(generator, bin_values=values, target=target)
    before = gan.relative_entropy()
    t = recipe.training
    gan.compile(keras.optimizers.Adam(t["learning_rate"], beta_1=0.7, amsgrad=True),
                keras.optimizers.Adam(t["learning_rate"], beta_1=0.7, amsgrad=True))
    gan.fit(samples, batch_size=t["batch_size"], epochs=t["epochs"], verbose=verbose)
    p = gan.probabilities().numpy()
    histogram = np.bincount(np.searchsorted(values, samples), minlength=len(values)) / n
    eps = 1e-12
    metrics = {"relative_entropy": _exact(relative_entropy(p, target)),
               "kl_target_to_model": _exact(relative_entropy(target, p + eps))}
    base = {"relative_entropy": _exact(relative_entropy(histogram + eps, target)),
            "kl_target_to_model": _exact(relative_entropy(target, histogram + eps))}
    extra = {"untrained_relative_entropy": before, "bin_values": list(map(float, values)),
             "target": list(map(float, target)), "generated": list(map(float, p)),
             "training_histogram": list(map(float, histogram)), "training_samples": n}
    _bar_chart(values, target, p, out / "samples.png")
    return gan, generator.count_params(), {"kind": "empirical histogram",
                                           "num_params": len(values) - 1,
                                           "report": {"metrics": base}}, metrics, extra


def _bar_chart(values, target, generated, path: Path) -> None:
    """Target (grey) and generated (black) bars as a small PNG, one column pair per bin."""
    from qkeras.models import save_image_grid

    height, width = 64, 6
    bars = np.ones((height, len(values) * (2 * width + 2)), np.float32)
    top = max(float(np.max(target)), float(np.max(generated)))
    for k, (a, b) in enumerate(zip(target, generated)):
        for j, (p, shade) in enumerate(((a, 0.6), (b, 0.0))):
            h = int(round(p / top * (height - 1)))
            x0 = k * (2 * width + 2) + j * width
            bars[height - h:, x0:x0 + width - 1] = shade
    save_image_grid(bars[None], path, columns=1, scale=2, padding=1)


def _patch(recipe, model_spec: Mapping, out: Path, data, verbose: int):
    from qkeras.models import (
        PatchQuantumGenerator,
        QuantumGAN,
        median_bandwidth,
        mmd,
        save_image_grid,
    )

    train, held, description = held_out_images(recipe.data, data, seed=recipe.seed)
    bandwidth = median_bandwidth(held)
    t, seed = recipe.training, recipe.seed
    n_eval = len(held)
    resamples = int(recipe.evaluation["n_resamples"])

    def fit(generator, latent_dim=None):
        keras.utils.set_random_seed(seed)
        gan = QuantumGAN(generator, latent_dim=latent_dim, seed=seed)
        untrained = gan.generate(n_eval)
        gan.compile(keras.optimizers.SGD(t.get("d_learning_rate") or 0.01),
                    keras.optimizers.SGD(t["learning_rate"]))
        gan.fit(train, batch_size=t["batch_size"], epochs=t["epochs"], verbose=verbose,
                shuffle=True)
        return gan, untrained

    options = {k: v for k, v in model_spec.items() if k not in ("kind",)}
    generator = PatchQuantumGenerator(
        (8, 8), **options,
        initializer=keras.initializers.RandomUniform(0, np.pi, seed=seed + 2))
    gan, untrained = fit(generator)
    latent_dim = gan.latent_dim
    samples = gan.generate(n_eval)
    metrics = {"mmd": mmd_interval(samples, held, bandwidth=bandwidth,
                                   n_resamples=resamples, seed=seed)}
    hidden = (recipe.baseline or {}).get("hidden", [1])
    twin = classical_generator((8, 8), latent_dim=latent_dim, seed=seed,
                               hidden=int(hidden[0] if isinstance(hidden, list) else hidden))
    twin_gan, _ = fit(twin, latent_dim)
    base = {"kind": "classical generator", "num_params": int(twin.count_params()),
            "report": {"metrics": {"mmd": mmd_interval(
                twin_gan.generate(n_eval), held, bandwidth=bandwidth, n_resamples=resamples,
                seed=seed)}}}
    noise = np.random.default_rng(seed + 3).uniform(0, 1, held.shape)
    extra = {"bandwidth": bandwidth, "data_description": description,
             "n_train": len(train), "n_held_out": len(held), "n_generated": n_eval,
             "references": {"uniform_noise": mmd(noise, held, bandwidth=bandwidth),
                            "untrained_generator": mmd(untrained, held, bandwidth=bandwidth),
                            "real_training_images": mmd(train[:n_eval], held,
                                                        bandwidth=bandwidth)}}
    save_image_grid(samples[:32], out / "samples.png", columns=8, scale=4, padding=1)
    save_image_grid(held[:32], out / "held_out.png", columns=8, scale=4, padding=1)
    return gan, int(generator.count_params()), base, metrics, extra


_CARD = """\
# {name} {version}

{summary}

> {intended_use}

## Model

- Kind: `{kind}` ({params} parameters); recipe `{recipe_path}` (sha256 `{recipe_sha}`),
  seed {seed}; {epochs} epochs, batch {batch_size}, learning rate {lr}.
- Weights: `{weights}` (sha256 `{weights_sha}`, {size} bytes). Load with
  `qkeras.zoo.load("{name}")`; {usage}
- Samples: `samples.png`{held_png}.

## Data

{data}

## Metrics ({ci_note})

| Metric | {name} | Baseline: {baseline_kind} ({baseline_params} parameters) |
| --- | --- | --- |
{rows}

{references}

## Limitations

{limitations}

## Licence and attribution

{licence}

{attribution}

## Reproduce

```
python scripts/zoo/train.py {recipe_path}{data_arg}
qkeras zoo evaluate {name}{data_arg}     # recomputes the metrics above
```

Environment: {environment}.
"""


def _cell(m: Mapping) -> str:
    if m["confidence"] >= 1.0:
        return f"{m['value']:.4f}"
    return f"{m['value']:.4f} ({m['low']:.4f}-{m['high']:.4f})"


def _render(recipe, summary: Mapping) -> str:
    model, base, extra = summary["model"], summary["baseline"], summary["details"]
    metrics = model["report"]["metrics"]
    rows = "\n".join(f"| {k} | {_cell(v)} | {_cell(base['report']['metrics'][k])} |"
                     for k, v in metrics.items())
    if model["kind"] == "distribution_qgan":
        data = (f"- {extra['training_samples']} samples drawn (seed {recipe.seed}) from the "
                f"discretised target over bins {extra['bin_values']}: "
                f"{[round(p, 4) for p in extra['target']]}.\n- Generated distribution: "
                f"{[round(p, 4) for p in extra['generated']]}.")
        references = (f"Untrained generator: relative entropy "
                      f"{extra['untrained_relative_entropy']:.4f}.")
        ci_note, usage = ("exact: the Born distribution is computed, not sampled",
                          "`model.probabilities()` gives the loaded distribution.")
        data_arg, held_png = "", ""
    else:
        data = (f"- {extra['data_description']}: {extra['n_train']} training images, "
                f"{extra['n_held_out']} held-out images (never trained on), 8x8 in [0, 1].\n"
                f"- MMD: Gaussian kernel, bandwidth {extra['bandwidth']:.4f} (median distance "
                f"of the held-out images), {extra['n_generated']} generated images (latent "
                "draw -1).")
        refs = extra["references"]
        references = ("References against the same held-out images: uniform noise "
                      f"{refs['uniform_noise']:.4f}; untrained generator "
                      f"{refs['untrained_generator']:.4f}; real training images "
                      f"{refs['real_training_images']:.4f} (what real data reach).")
        ci_note = (f"95% percentile-bootstrap CIs, {recipe.evaluation['n_resamples']} "
                   "resamples of both image sets; lower is better")
        usage = "`model.generate(n)` makes `n` images."
        data_arg = "" if recipe.data.get("dataset") == "digits" else " --data PATH"
        held_png = ", held-out real images `held_out.png`"
    card = recipe.card
    return _CARD.format(
        name=recipe.name, version=recipe.version, summary=recipe.summary,
        intended_use=card.get("intended_use", ""), kind=model["kind"],
        params=model["num_params"], recipe_path=summary["recipe"]["path"],
        recipe_sha=summary["recipe"]["sha256"], seed=recipe.seed,
        epochs=recipe.training["epochs"], batch_size=recipe.training["batch_size"],
        lr=recipe.training["learning_rate"], weights=summary["weights"]["file"],
        weights_sha=summary["weights"]["sha256"], size=summary["weights"]["size"],
        usage=usage, held_png=held_png, data=data, ci_note=ci_note,
        baseline_kind=base["kind"], baseline_params=base["num_params"], rows=rows,
        references=references, limitations=card.get("limitations") or "",
        licence=card.get("licence", ""), attribution=card.get("attribution", ""),
        data_arg=data_arg,
        environment=", ".join(f"{k} {v}" for k, v in summary["environment"].items()))


def train_generative(recipe, output_dir: str | os.PathLike, *, data=None, verbose: int = 0):
    """Trains a generative recipe and writes the GAN, ``metrics.json``, card and PNGs.

    Args:
        recipe: A :class:`~qkeras.zoo.recipes.Recipe` with ``task: generation``.
        output_dir: Folder for the outputs (created).
        data: For a MedMNIST patch GAN: the ``.npz`` file or its folder.
        verbose: Keras ``fit`` verbosity.

    Returns:
        A :class:`~qkeras.zoo.training.TrainingResult`.

    Raises:
        ConfigurationError: For a model kind that is not generative.

    Example:
        >>> import tempfile
        >>> from qkeras.zoo.recipes import Recipe
        >>> recipe = Recipe.from_dict({"name": "tiny-qgan", "version": "0.0.1",
        ...     "task": "generation", "data": {"dataset": "lognormal",
        ...     "subset": {"train": 100}}, "model": {"kind": "distribution_qgan",
        ...     "qubits": 2, "layers": 1}, "training": {"epochs": 1, "batch_size": 50}})
        >>> result = train_generative(recipe, tempfile.mkdtemp())
        >>> sorted(result.summary["model"]["report"]["metrics"])
        ['kl_target_to_model', 'relative_entropy']
    """
    from qkeras.zoo.cache import sha256_of
    from qkeras.zoo.training import TrainingResult, _atomic_write, _environment

    start = time.perf_counter()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    kind = recipe.model.get("kind")
    if kind == "distribution_qgan":
        gan, params, base, metrics, extra = _distribution(recipe, recipe.model, out, verbose)
    elif kind == "patch_qgan":
        gan, params, base, metrics, extra = _patch(recipe, recipe.model, out, data, verbose)
    else:
        raise ConfigurationError(f"Model kind {kind!r} is not generative; use one of "
                                 f"{GENERATIVE_KINDS}.")
    temp = out / f".{recipe.name}.training.keras"
    gan.save(temp)
    digest = sha256_of(temp)
    weights = out / f"{recipe.name}-{recipe.version}-{digest[:8]}.keras"
    os.replace(temp, weights)
    latent = getattr(gan, "latent_dim", 0)
    summary = {
        "name": recipe.name, "version": recipe.version, "task": recipe.task,
        "seed": recipe.seed,
        "recipe": {"path": str(recipe.path) if recipe.path else None,
                   "sha256": recipe.sha256, "overrides": recipe.overrides,
                   "training": recipe.training, "evaluation": recipe.evaluation,
                   "data": recipe.data},
        "data": {"file": extra.get("data_description", "samples of the target"),
                 "sha256": None, "provenance": "see the card",
                 "input_shape": [latent] if latent else [0],
                 "sizes": {"train": extra.get("n_train", extra.get("training_samples")),
                           "val": 0, "test": extra.get("n_held_out", 0)},
                 "notes": []},
        "model": {"kind": kind, "spec": recipe.model, "num_params": params,
                  "report": {"metrics": metrics, "threshold": None, "class_names": []}},
        "baseline": base, "details": extra,
        "weights": {"file": weights.name, "sha256": digest, "size": weights.stat().st_size},
        "environment": _environment(), "seconds": round(time.perf_counter() - start, 1),
    }
    metrics_path = _atomic_write(out / "metrics.json",
                                 (json.dumps(summary, indent=2) + "\n").encode())
    card = _atomic_write(out / "card.md", _render(recipe, summary).encode())
    log.info("%s %s: wrote %s", recipe.name, recipe.version, weights.name)
    return TrainingResult(weights=weights, metrics=metrics_path, card=card, summary=summary)


def evaluate_generative(entry, model, data=None, *, n_resamples: int | None = None) -> dict:
    """Recomputes a released generator's metrics (exactly as its recipe measured them).

    Args:
        entry: The :class:`~qkeras.zoo.ZooEntry`.
        model: The loaded GAN.
        data: For a MedMNIST patch GAN, the ``.npz`` file or its folder.
        n_resamples: Bootstrap resamples (default: as released).

    Returns:
        Metric name -> ``{"value", "low", "high", "confidence"}``.

    Example:
        >>> evaluate_generative.__name__
        'evaluate_generative'
    """
    from qkeras.models import DistributionQGAN, median_bandwidth, relative_entropy

    if isinstance(model, DistributionQGAN):
        p, target = model.probabilities().numpy(), np.asarray(model.target)
        return {"relative_entropy": _exact(relative_entropy(p, target)),
                "kl_target_to_model": _exact(relative_entropy(target, p + 1e-12))}
    _, held, _ = held_out_images(entry.loader, data, seed=entry.seed)
    samples = model.generate(len(held))
    resamples = n_resamples or 1000
    return {"mmd": mmd_interval(samples, held, bandwidth=median_bandwidth(held),
                                n_resamples=resamples, seed=entry.seed)}
