"""Chest X-ray, end to end: images in, de-identified, a hybrid model, a clinical report.

DICOM/PNG/JPEG folder (or a MedMNIST .npz) -> de-identify DICOM (qkeras.medical.deid)
-> tf.data -> CNN + QuantumDense classifier -> threshold chosen on validation (Youden)
-> ClinicalReport with bootstrap CIs on the test split -> Grad-CAM overlays.

    python examples/chest_xray_pipeline.py --data ../shared/data/pneumoniamnist.npz \\
        --epochs 2 --limit 1000 --out demo_output/cxr
    python examples/chest_xray_pipeline.py --data path/to/chest_xray --image-size 64

A folder is ``<root>/{train,val,test}/<class>/<image>`` (Kermany's layout). Research code:
not for diagnosis.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import secrets
import shutil
from pathlib import Path

import numpy as np

import qkeras  # noqa: F401  (routes tf.keras to tf_keras before TensorFlow is used)
from qkeras import keras
from qkeras.medical import datasets, explain, metrics

log = logging.getLogger("chest_xray_pipeline")


def deidentify(folder: Path, out: Path, key_file: Path | None) -> Path:
    """De-identifies the DICOM files of ``folder`` into ``out``; PNG/JPEG are copied."""
    if not any(p.suffix.lower() in (".dcm", ".dicom") for p in folder.rglob("*")):
        log.info("no DICOM files: nothing to de-identify")
        return folder
    try:
        deid = importlib.import_module("qkeras.medical.deid")
    except ImportError:
        log.warning("qkeras.medical.deid is not available: skipping de-identification")
        return folder
    key = deid.read_key(key_file) if key_file else secrets.token_bytes(32)
    if key_file is None:
        log.info("UID key made for this run only; pass --deid-key to keep UIDs stable")
    report = deid.deidentify_tree(folder, out, key)
    for image in folder.rglob("*"):
        if image.suffix.lower() in (".png", ".jpg", ".jpeg"):
            (out / image.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(image, out / image.relative_to(folder))
    log.info("de-identified %d DICOM file(s); %d failed, %d flagged for burned-in text",
             len(report.written), len(report.failed), len(report.flagged))
    return out


def load(args: argparse.Namespace) -> tuple[dict, tuple[str, ...], list[str]]:
    """Returns the pipelines per split, the class names and notes for the report."""
    if args.data.suffix == ".npz":
        data = datasets.medmnist(args.data, batch_size=args.batch_size)
        notes = [f"Data: {data.path.name} ({data.provenance} file, sha256 {data.sha256[:12]}…)"]
    else:
        root = deidentify(args.data, args.out / "deid", args.deid_key)
        data = datasets.image_folder(root, image_size=(args.image_size,) * 2,
                                     batch_size=args.batch_size, near_duplicates=True)
        notes = [f"Data: {args.data.name}; {data.duplicates.total_removed} cross-split "
                 f"duplicate image(s) removed ({data.duplicates.rule})"]
    splits = dict(data.datasets)
    if args.limit:  # a fixed random subset of each split (files are sorted by class)
        splits = {name: ds.unbatch().shuffle(10_000, seed=0, reshuffle_each_iteration=False)
                  .take(args.limit).cache().batch(args.batch_size)
                  for name, ds in splits.items()}
    return splits, data.class_names, notes


def build_model(input_shape: tuple[int, ...], n_classes: int) -> keras.Model:
    """A small CNN whose 4 features feed a 4-qubit QuantumDense layer."""
    try:
        from qkeras.layers import QuantumDense
        middle = QuantumDense(qubits=4, encoding="angle", ansatz="hardware_efficient", layers=1)
    except ImportError:
        log.warning("qkeras.layers.QuantumDense is not available: using a classical layer")
        middle = keras.layers.Dense(4, activation="tanh")
    head = keras.layers.Dense(1, activation="sigmoid") if n_classes == 2 else \
        keras.layers.Dense(n_classes, activation="softmax")
    model = keras.Sequential([
        keras.Input(input_shape),
        keras.layers.Conv2D(8, 3, activation="relu", padding="same"), keras.layers.MaxPool2D(),
        keras.layers.Conv2D(16, 3, activation="relu", padding="same", name="last_conv"),
        keras.layers.MaxPool2D(), keras.layers.Flatten(), keras.layers.Dense(4, activation="tanh"),
        middle, head])
    loss = "binary_crossentropy" if n_classes == 2 else "sparse_categorical_crossentropy"
    model.compile(keras.optimizers.Adam(3e-3), loss, metrics=["accuracy"])
    return model


def predict(model: keras.Model, dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images, labels and scores (positive-class column for binary models)."""
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in dataset), strict=True)
    images, labels = np.concatenate(images), np.concatenate(labels)
    scores = model.predict(images, verbose=0)
    return images, labels, scores[:, 0] if scores.shape[1] == 1 else scores


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help=".npz file or image folder")
    parser.add_argument("--out", type=Path, default=Path("demo_output/chest_xray"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="at most N images per split")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--deid-key", type=Path, default=None, help="UID key file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    keras.utils.set_random_seed(0)

    splits, class_names, notes = load(args)
    model = build_model(tuple(splits["train"].element_spec[0].shape[1:]), len(class_names))
    model.fit(splits["train"], validation_data=splits.get("val"), epochs=args.epochs,
              verbose=2)
    threshold = None
    if len(class_names) == 2 and "val" in splits:
        _, y_val, s_val = predict(model, splits["val"])
        threshold = metrics.youden_threshold(y_val, s_val)
        notes.append(f"Threshold {threshold:.3f}: Youden's J on the validation split")
    images, y_test, s_test = predict(model, splits["test"])
    report = metrics.evaluate(y_test, s_test, threshold=threshold, class_names=class_names,
                              n_resamples=args.resamples, notes=notes)
    json_path, md_path = report.write(args.out)
    cams = explain.grad_cam(model, images[:8], layer="last_conv")
    explain.save_overlays(images[:8], cams, args.out / "gradcam", prefix="gradcam")
    auroc = report.metrics["auroc"]
    log.info("test AUROC %s; report: %s, %s; overlays: %s", auroc, json_path, md_path,
             args.out / "gradcam")
    return md_path


if __name__ == "__main__":
    main()
