"""Train a zoo model from its recipe: ``python scripts/zoo/train.py RECIPE [options]``.

Writes the weights, ``metrics.json`` and ``card.md`` into ``--out`` (default: the
recipe's folder). Budget overrides (``--epochs``, ``--train-subset`` ...) are recorded in
``metrics.json``; a release uses the recipe as written.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", help="zoo/<name>/recipe.yaml")
    parser.add_argument("--data", help="MedMNIST .npz file, or a folder holding the "
                        "recipe's data.file (default: download the recipe's data set)")
    parser.add_argument("--out", help="output folder (default: the recipe's folder)")
    parser.add_argument("--epochs", type=int, help="override training.epochs")
    parser.add_argument("--train-subset", type=int, help="override data.subset.train")
    parser.add_argument("--val-subset", type=int, help="override data.subset.val")
    parser.add_argument("--resamples", type=int, help="override evaluation.n_resamples")
    parser.add_argument("-v", "--verbose", action="store_true", help="Keras progress")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from qkeras import zoo
    from qkeras.errors import QKerasError

    try:
        recipe = zoo.load_recipe(args.recipe)
        subset = {k: v for k, v in (("train", args.train_subset), ("val", args.val_subset))
                  if v is not None}
        recipe = recipe.replace(
            training={"epochs": args.epochs} if args.epochs else {},
            data={"subset": subset} if subset else {},
            evaluation={"n_resamples": args.resamples} if args.resamples else {})
        result = zoo.train(recipe, args.out or Path(args.recipe).parent, data=args.data,
                           verbose=2 if args.verbose else 0)
    except QKerasError as err:
        print(f"train.py: {err}", file=sys.stderr)
        return 2
    rows = {role: result.summary[role] for role in ("model", "baseline")
            if result.summary.get(role)}
    for role, part in rows.items():
        metrics = part["report"]["metrics"]
        shown = "  ".join(f"{key} {metrics[key]['value']:.4f}" for key in (
            "auroc", "accuracy", "mmd", "relative_entropy") if key in metrics)
        print(f"{role:<9} {part['kind']:<22} params {part['num_params']:>6}  {shown}")
    print(json.dumps({"weights": str(result.weights), "metrics": str(result.metrics),
                      "card": str(result.card)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
