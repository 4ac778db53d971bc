"""Duplicate images across and within splits: exact (sha256) and near-identical.

Near-identical means a root-mean-square difference of at most a threshold between small
grey thumbnails (16x16 by default, values in [0, 1]). On the brain-tumor MRI set the
nearest-training-image distances of the Testing images are bimodal: about 450 lie under
0.004 (byte-identical files and re-encoded copies, identical to the eye) and the bulk
above 0.012 (other slices, other patients), with about 20 in between; 0.005 sits in that
gap. A 256-bit average hash was tried first and rejected: on MRI it puts different
images, even of different classes, within 1 bit of each other.

The rule for a group of copies of one image that spans splits: the copies in the split that
comes first in ``SPLIT_ORDER`` (train, then val, then test, then any other) are kept and the
copies in every later split are dropped, so a training image never reappears in an
evaluation split and a validation image never reappears in the test split. Within one split,
copies are reported; with ``drop_within_split`` only the first (by relative path) is kept.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SPLIT_ORDER = ("train", "val", "test")


@dataclass(frozen=True)
class FileRecord:
    """One image file of a class-per-folder tree."""

    path: Path
    relative: str
    split: str
    class_name: str
    label: int


@dataclass(frozen=True)
class DuplicateReport:
    """What the duplicate search found and what it removed.

    Attributes:
        n_files: Files searched.
        exact_groups: Groups of two or more byte-identical files (same sha256).
        cross_split_groups: Exact groups whose copies lie in more than one split.
        within_split_groups: Exact groups with two or more copies inside one split.
        label_conflicts: Exact groups whose copies sit in different class folders.
        leaked: Per split, files with an exact copy in an earlier split (train before val
            before test); these are the evaluation images a model would have seen in training.
        near_groups: Groups of near-identical files (exact groups included), or ``None``
            when the near-duplicate search was off.
        near_cross_split_groups: Near groups spanning splits, or ``None``.
        removed: Per split and class, files dropped from the data set.
        groups: Relative paths of every group (near groups when that search was on), for
            audit; never logged.
        rule: The removal rule in words.

    Example:
        >>> DuplicateReport(n_files=0).total_removed
        0
    """

    n_files: int
    exact_groups: int = 0
    cross_split_groups: int = 0
    within_split_groups: int = 0
    label_conflicts: int = 0
    leaked: dict[str, int] = field(default_factory=dict)
    near_groups: int | None = None
    near_cross_split_groups: int | None = None
    removed: dict[str, dict[str, int]] = field(default_factory=dict)
    groups: tuple[tuple[str, ...], ...] = ()
    rule: str = ""

    @property
    def total_removed(self) -> int:
        """Files dropped, over all splits and classes."""
        return sum(sum(per_class.values()) for per_class in self.removed.values())


def split_rank(split: str) -> tuple[int, str]:
    """Orders splits: train, val, test, then any others alphabetically.

    Example:
        >>> sorted(["test", "extra", "train", "val"], key=split_rank)
        ['train', 'val', 'test', 'extra']
    """
    return (SPLIT_ORDER.index(split) if split in SPLIT_ORDER else len(SPLIT_ORDER), split)


def sha256_groups(records: Sequence[FileRecord]) -> list[list[int]]:
    """Groups record indices by file sha256; returns the groups of two or more.

    Example:
        >>> sha256_groups([])
        []
    """
    by_digest: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        by_digest[hashlib.sha256(record.path.read_bytes()).hexdigest()].append(index)
    return [group for group in by_digest.values() if len(group) > 1]


def near_pairs(thumbnails: np.ndarray, threshold: float, chunk: int = 256,
               ) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of thumbnails within ``threshold`` RMS difference.

    The root-mean-square difference of two flattened thumbnails ``a`` and ``b`` (values in
    [0, 1]) is ``sqrt(mean((a - b)**2))``, computed for all pairs by blocks of a matrix
    product, ``|a|^2 + |b|^2 - 2 a.b``, in float64.

    Example:
        >>> near_pairs(np.array([[0.0, 0.5], [0.0, 0.51], [1.0, 0.0]]), 0.01)
        [(0, 1)]
    """
    x = np.asarray(thumbnails, np.float64).reshape(len(thumbnails), -1)
    squares = np.einsum("ij,ij->i", x, x)
    limit = threshold**2 * x.shape[1] if len(x) else 0.0
    pairs = []
    for start in range(0, len(x), chunk):
        block = x[start:start + chunk]
        distance = squares[start:start + chunk, None] + squares[None, :] - 2.0 * block @ x.T
        rows, cols = np.nonzero(distance <= limit + 1e-9)
        rows = rows + start
        keep = rows < cols
        pairs.extend(zip(rows[keep].tolist(), cols[keep].tolist(), strict=True))
    return pairs


def _components(n: int, groups: Sequence[Sequence[int]],
                pairs: Sequence[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for group in groups:
        for other in group[1:]:
            parent[find(other)] = find(group[0])
    for i, j in pairs:
        parent[find(j)] = find(i)
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        members[find(i)].append(i)
    return [sorted(m) for m in members.values() if len(m) > 1]


def _spans(records: Sequence[FileRecord], group: Sequence[int]) -> bool:
    return len({records[i].split for i in group}) > 1


def _drop_from(records: Sequence[FileRecord], groups: Sequence[Sequence[int]],
               cross_split: bool, within_split: bool) -> set[int]:
    drop: set[int] = set()
    for group in groups:
        first = min(split_rank(records[i].split) for i in group)
        seen_splits: set[str] = set()
        for i in sorted(group, key=lambda i: records[i].relative):
            record = records[i]
            if cross_split and split_rank(record.split) > first and _spans(records, group):
                drop.add(i)
            elif within_split and record.split in seen_splits:
                drop.add(i)
            seen_splits.add(record.split)
    return drop


def find_duplicates(records: Sequence[FileRecord], *, remove_cross_split: bool = True,
                    drop_within_split: bool = False,
                    thumbnail: Callable[[FileRecord], np.ndarray] | None = None,
                    threshold: float = 0.005,
                    ) -> tuple[DuplicateReport, set[int]]:
    """Finds duplicate groups and decides which records to drop (see the module rule).

    Args:
        records: The files of every split.
        remove_cross_split: Drop the later-split copies of groups that span splits.
        drop_within_split: Keep only one copy of an image inside each split.
        thumbnail: Returns a grey thumbnail in [0, 1] of a record; when given,
            near-identical files (thumbnails within ``threshold`` RMS difference) are
            grouped with the exact ones and the removal rule applies to those groups.
        threshold: Largest RMS thumbnail difference of near-identical images.

    Returns:
        The report and the indices of ``records`` to drop.

    Example:
        >>> report, drop = find_duplicates([])
        >>> report.exact_groups, drop
        (0, set())
    """
    exact = sha256_groups(records)
    groups = exact
    near_groups = near_cross = None
    if thumbnail is not None:
        thumbs = np.stack([thumbnail(r) for r in records]) if records else np.zeros((0, 1))
        groups = _components(len(records), exact, near_pairs(thumbs, threshold))
        near_groups = len(groups)
        near_cross = sum(_spans(records, g) for g in groups)
    drop = _drop_from(records, groups, remove_cross_split, drop_within_split)
    leaked: Counter[str] = Counter()
    for group in exact:
        first = min(split_rank(records[i].split) for i in group)
        leaked.update(records[i].split for i in group if split_rank(records[i].split) > first)
    removed: dict[str, dict[str, int]] = defaultdict(dict)
    for i in sorted(drop):
        per_class = removed[records[i].split]
        per_class[records[i].class_name] = per_class.get(records[i].class_name, 0) + 1
    report = DuplicateReport(
        n_files=len(records),
        exact_groups=len(exact),
        cross_split_groups=sum(_spans(records, g) for g in exact),
        within_split_groups=sum(
            max(Counter(records[i].split for i in g).values()) > 1 for g in exact),
        label_conflicts=sum(len({records[i].label for i in g}) > 1 for g in exact),
        leaked=dict(sorted(leaked.items(), key=lambda kv: split_rank(kv[0]))),
        near_groups=near_groups,
        near_cross_split_groups=near_cross,
        removed={s: dict(sorted(c.items())) for s, c in removed.items()},
        groups=tuple(tuple(records[i].relative for i in g) for g in groups),
        rule=("cross-split copies kept in the earliest split (train < val < test), dropped "
              "from later ones" if remove_cross_split else "cross-split copies kept")
        + ("; within-split copies after the first dropped" if drop_within_split else ""),
    )
    log.info(
        "duplicates: %d files, %d byte-identical groups (%d span splits, %d within a split, "
        "%d with conflicting labels)%s; leaked %s; removed %d files %s",
        report.n_files, report.exact_groups, report.cross_split_groups,
        report.within_split_groups, report.label_conflicts,
        "" if near_groups is None else
        f", {near_groups} near-identical groups ({near_cross} span splits)",
        report.leaked, report.total_removed, report.removed,
    )
    return report, drop
