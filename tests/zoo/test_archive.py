"""Archive extraction refuses members that escape the target, and the zoo loads archives.

References: the bytes written into each archive (read back from disk); the parent
folder's listing (nothing left at the target, beside it or outside it after a refusal);
the original tf_keras model's own predictions.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import uuid
import zipfile

import numpy as np
import pytest

from qkeras import zoo
from qkeras.errors import ArchiveError, ConfigurationError, ZooError
from qkeras.zoo import archive
from tests.zoo.conftest import make_entry


def _tar(path, members):
    """Writes a tar(.gz) from (TarInfo, bytes or None) pairs."""
    mode = "w:gz" if path.name.endswith((".tar.gz", ".tgz")) else "w"
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name, data=b"x"):
    return tarfile.TarInfo(name), data


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


@pytest.fixture
def place(tmp_path):
    """(source folder holding the archives, cache folder the target goes into)."""
    source, cache = tmp_path / "src", tmp_path / "cache"
    source.mkdir()
    cache.mkdir()
    return source, cache


def test_good_tar_gz_extracts(place):
    source, cache = place
    subdir = tarfile.TarInfo("model/sub")
    subdir.type = tarfile.DIRTYPE
    path = _tar(source / "m.tar.gz", [
        (subdir, None), _file("model/sub/a.txt", b"alpha"), _file("top.txt", b"top"),
        _link("model/link", "sub/a.txt"), _link("model/hard", "top.txt", tarfile.LNKTYPE)])
    out = archive.extract(path, cache / "m")
    assert out == cache / "m"
    assert (out / "model" / "sub" / "a.txt").read_bytes() == b"alpha"
    assert (out / "model" / "link").read_bytes() == b"alpha"
    assert (out / "model" / "hard").read_bytes() == b"top"
    assert sorted(p.name for p in cache.iterdir()) == ["m"]


def test_good_zip_extracts_and_second_call_reuses_it(place):
    source, cache = place
    path = source / "m.zip"
    with zipfile.ZipFile(path, "w") as handle:
        handle.writestr("model/w.bin", b"\x00\x01")
        handle.writestr("readme.txt", "hello")
    out = archive.extract(path, cache / "m")
    assert (out / "model" / "w.bin").read_bytes() == b"\x00\x01"
    assert (out / "readme.txt").read_text() == "hello"
    path.write_bytes(b"no longer an archive")  # a second extraction would fail
    assert archive.extract(path, cache / "m") == out
    assert (out / "readme.txt").read_text() == "hello"


EVIL_ABSOLUTE = f"/tmp/qkeras-evil-{uuid.uuid4().hex}"

UNSAFE_TAR = {
    "dotdot": ([_file("../evil.txt")], "../evil.txt"),
    "absolute": ([_file(EVIL_ABSOLUTE)], EVIL_ABSOLUTE),
    "symlink": ([_link("model/link", "../../outside")], "model/link"),
    "symlink-absolute": ([_link("link", "/etc")], "link"),
    "hardlink": ([_link("hard", "../outside", tarfile.LNKTYPE)], "hard"),
    "link-chain": ([_link("x", "."), _link("x/y", "..")], "x/y"),
    "write-through-link": ([_link("d", "."), _file("d/../../evil.txt")], "d/../../evil.txt"),
    "fifo": ([_link("pipe", "", tarfile.FIFOTYPE)], "pipe"),
    "device": ([_link("dev", "", tarfile.CHRTYPE)], "dev"),
}


def _assert_nothing_left(tmp_path, archive_name):
    assert list((tmp_path / "cache").iterdir()) == []  # no target, no temporary folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "src"]
    assert [p.name for p in (tmp_path / "src").iterdir()] == [archive_name]
    assert not os.path.lexists(EVIL_ABSOLUTE)


@pytest.mark.parametrize("case", sorted(UNSAFE_TAR))
def test_unsafe_tar_member_is_refused(tmp_path, place, case):
    source, cache = place
    members, offender = UNSAFE_TAR[case]
    path = _tar(source / "bad.tar.gz", [(info, data) for info, data in members]
                + [_file("fine.txt")])
    with pytest.raises(ArchiveError, match=f"Unsafe archive member '{re.escape(offender)}'"):
        archive.extract(path, cache / "bad")
    _assert_nothing_left(tmp_path, path.name)


def test_unsafe_zip_member_is_refused(tmp_path, place):
    source, cache = place
    path = source / "bad.zip"
    with zipfile.ZipFile(path, "w") as handle:
        handle.writestr("fine.txt", "ok")
        handle.writestr("../evil.txt", "x")
    with pytest.raises(ArchiveError, match=re.escape("'../evil.txt'") + ".*re-download"):
        archive.extract(path, cache / "bad")
    _assert_nothing_left(tmp_path, path.name)


def test_corrupt_archive_and_unknown_suffix(tmp_path, place):
    source, cache = place
    path = source / "bad.tar.gz"
    path.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ArchiveError, match="Cannot extract bad.tar.gz"):
        archive.extract(path, cache / "bad")
    _assert_nothing_left(tmp_path, path.name)
    with pytest.raises(ArchiveError, match="'m.rar' is not an archive"):
        archive.extract(source / "m.rar", cache / "m")


def test_entry_accepts_archives_only_as_bare_names(tmp_path):
    path = tmp_path / "m.tar.gz"
    path.write_bytes(b"x")
    assert make_entry(path, file="m.tar.gz").file == "m.tar.gz"
    with pytest.raises(ConfigurationError, match="bare .keras file name or an archive"):
        make_entry(path, file="m.rar")


def _archive_entry(path, name, version="1.0.0"):
    inputs = zoo.InputSpec((2,), "float32", (-1.0, 1.0), "none")
    return make_entry(path, version=version, name=name, file=path.name, task="generation",
                      classes=(), inputs=inputs)


@pytest.fixture
def tiny_keras_model():
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])


def test_load_extracts_a_released_tar_gz(home, tmp_path, monkeypatch, tiny_keras_model):
    model_dir, mirror = tmp_path / "packed", tmp_path / "mirror"
    model_dir.mkdir()
    tiny_keras_model.save(model_dir / "model.keras")
    name = "test-archive-tiny"
    (mirror / name).mkdir(parents=True)
    path = mirror / name / f"{name}-1.0.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(model_dir / "model.keras", arcname="model.keras")
    monkeypatch.setenv("QKERAS_ZOO_URL", mirror.as_uri())
    entry = zoo.register(_archive_entry(path, name))
    try:
        folder = zoo.download(name)
        assert folder == home / "zoo" / name / "1.0.0" / f"{name}-1.0.0"
        assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name, entry.file]
        x = np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32)
        np.testing.assert_array_equal(zoo.load(name).predict(x, verbose=0),
                                      tiny_keras_model.predict(x, verbose=0))
    finally:
        zoo.unregister(name, "1.0.0")


def test_load_reads_a_saved_model_zip_and_refuses_an_ambiguous_one(
        home, tmp_path, monkeypatch, tiny_keras_model):
    saved, mirror = tmp_path / "saved", tmp_path / "mirror"
    tiny_keras_model.save(saved, save_format="tf")
    name = "test-archive-saved"
    (mirror / name).mkdir(parents=True)
    path = mirror / name / f"{name}-1.0.0.zip"
    with zipfile.ZipFile(path, "w") as handle:
        for file in sorted(saved.rglob("*")):
            if file.is_file():  # packed as one top-level folder, as `zip -r` would
                handle.write(file, f"saved/{file.relative_to(saved).as_posix()}")
    bad = mirror / name / f"{name}-2.0.0.zip"
    with zipfile.ZipFile(bad, "w") as handle:
        handle.writestr("a.keras", "x")
        handle.writestr("b.keras", "y")
    monkeypatch.setenv("QKERAS_ZOO_URL", mirror.as_uri())
    zoo.register(_archive_entry(path, name))
    zoo.register(_archive_entry(bad, name, "2.0.0"))
    try:
        x = np.random.default_rng(1).normal(size=(3, 2)).astype(np.float32)
        np.testing.assert_array_equal(zoo.load(name, "1.0.0").predict(x, verbose=0),
                                      tiny_keras_model.predict(x, verbose=0))
        with pytest.raises(ZooError, match="holds 2 .keras files and no saved_model.pb"):
            zoo.load(name, "2.0.0")
    finally:
        zoo.unregister(name, "1.0.0")
        zoo.unregister(name, "2.0.0")
