"""Release a trained zoo model: ``python scripts/zoo/release.py zoo/<name> [--url URL]``.

``--card-only`` renders ``card.md`` again from the recipe and ``metrics.json``.
Checks the folder (recipe unchanged since training, no budget overrides, weights matching
their sha256) and adds its record to ``qkeras/zoo/released.json``, atomically.
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="zoo/<name>, holding recipe.yaml, metrics.json and "
                        "the weights")
    parser.add_argument("--url", default="", help="release URL of the weights (default: "
                        "none; the file is released in this repository)")
    parser.add_argument("--card-only", action="store_true", help="only render card.md "
                        "again from recipe.yaml and metrics.json (after a template change)")
    args = parser.parse_args(argv)
    from qkeras.errors import QKerasError
    from qkeras.zoo.release import add_release, entry_from_folder
    from qkeras.zoo.training import refresh_card

    try:
        if args.card_only:
            print(f"rendered {refresh_card(args.folder)}")
            return 0
        entry = entry_from_folder(args.folder, url=args.url)
        path = add_release(entry)
    except QKerasError as err:
        print(f"release.py: {err}", file=sys.stderr)
        return 2
    print(f"released {entry.name} {entry.version} ({entry.file}) into {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
