"""Registry and entry validation: duplicates refused, close matches, measured metrics.

References: the rules written in the entry docstrings (kebab-case names, semver, 64-hex
sha256) and a metrics.json written by hand in the recipe's format.
"""

from __future__ import annotations

import json

import pytest

from qkeras import zoo
from qkeras.errors import ConfigurationError, ZooError
from qkeras.zoo import presets, registry
from tests.zoo.conftest import NAME, make_entry


def test_shipped_registry_matches_the_zoo_folders():
    """Every released entry is exactly what its folder's training run recorded."""
    from qkeras.zoo.cache import sha256_of
    from qkeras.zoo.entry import repository_zoo
    from qkeras.zoo.release import entry_from_folder

    assert presets.RELEASED and all(not e.name.startswith("test-") for e in zoo.list())
    for entry in presets.RELEASED:
        folder = repository_zoo() / entry.name
        assert sha256_of(folder / entry.file) == entry.sha256
        assert (folder / entry.file).stat().st_size == entry.size
        assert entry == entry_from_folder(folder), entry.name  # no hand-typed figure
        card = (folder / "card.md").read_text()
        assert entry.sha256 in card and entry.licence and entry.attribution
        if entry.task != "generation":
            assert "not a medical device" in entry.intended_use.lower()
    weights = {p.parent.name for p in repository_zoo().glob("*/*.keras")}
    assert weights == {e.name for e in presets.RELEASED}  # no unreleased weights lie about


def test_register_refuses_duplicates_and_picks_the_newest(tiny_model_file):
    old, new = make_entry(tiny_model_file, version="1.2.0"), make_entry(
        tiny_model_file, version="1.10.0")
    zoo.register(old)
    zoo.register(new)
    try:
        with pytest.raises(ZooError, match="registered already; release a new version"):
            zoo.register(make_entry(tiny_model_file, version="1.2.0"))
        assert zoo.info(NAME).version == "1.10.0"  # numeric, not string, order
        assert zoo.info(NAME, "1.2.0") is old
        assert [e.version for e in zoo.list() if e.name == NAME] == ["1.10.0"]
        with pytest.raises(ZooError, match="no version '9.9.9'; released: 1.2.0, 1.10.0"):
            zoo.info(NAME, "9.9.9")
        with pytest.raises(ZooError, match="Did you mean 'test-qcnn-tiny'"):
            zoo.info("test-qcnn-tine")
    finally:
        zoo.unregister(NAME, "1.2.0")
        zoo.unregister(NAME, "1.10.0")
    with pytest.raises(ZooError, match="not registered"):
        zoo.unregister(NAME, "1.2.0")


@pytest.mark.parametrize("change,message", [
    ({"name": "QCNN_Chest"}, "kebab-case"),
    ({"version": "1.0"}, "MAJOR.MINOR.PATCH"),
    ({"sha256": "abc"}, "64 lower-case hex"),
    ({"task": "segmentation"}, "task must be one of"),
    ({"file": "dir/x.keras"}, "bare .keras file name"),
    ({"size": 0}, "size must be the file's size"),
    ({"changelog": {}}, "changelog must say what version 1.0.0 changed"),
])
def test_entry_validation(tiny_model_file, change, message):
    with pytest.raises(ConfigurationError, match=message):
        make_entry(tiny_model_file, **change)


def test_entry_is_frozen_and_serialisable(tiny_model_file):
    entry = make_entry(tiny_model_file, metrics={"auroc": zoo.Metric(0.9, 0.8, 0.95, 0.95)})
    with pytest.raises(AttributeError):
        entry.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        entry.metrics["auroc"] = None  # type: ignore[index]
    data = json.loads(json.dumps(entry.to_dict()))
    assert data["metrics"]["auroc"]["low"] == 0.8 and data["inputs"]["shape"] == [28, 28, 1]
    with pytest.raises(ZooError, match="takes a ZooEntry"):
        zoo.register(data)


def test_measured_reads_metrics_json(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    report = {"threshold": 0.42, "metrics": {
        "auroc": {"value": 0.9, "low": 0.85, "high": 0.94, "confidence": 0.95},
        "ppv": {"value": None, "low": None, "high": None, "confidence": 0.95}}}
    (folder / "metrics.json").write_text(json.dumps({"model": {"report": report}}))
    metrics = zoo.measured("m", root=tmp_path)
    assert list(metrics) == ["auroc"] and metrics["auroc"].high == 0.94
    assert zoo.measured_threshold("m", root=tmp_path) == 0.42
    (folder / "metrics.json").write_text(json.dumps({"model": {"report": {"metrics": {
        "auroc": {"value": 0.9}}}}}))
    with pytest.raises(ZooError, match="Malformed metrics"):
        zoo.measured("m", root=tmp_path)
    with pytest.raises(ZooError, match="Run scripts/zoo/train.py zoo/absent/recipe.yaml"):
        zoo.measured("absent", root=tmp_path)
    assert registry.names() == sorted(set(registry.names()))
