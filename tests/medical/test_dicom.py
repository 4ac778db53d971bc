"""Tests for qkeras.medical.dicom on pydicom's real test files.

References: the closed forms of PS3.3 C.11.1 (Modality LUT: rescale, LUT lookup),
C.11.2.1.2.1 (linear window), C.11.2.1.1 (VOI LUT lookup) and C.7.6.3.1.2 (MONOCHROME1:
the minimum value is white), applied to the stored values pydicom decodes; and, for the
compressed syntaxes, the uncompressed file of the same image.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import (
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
)

from qkeras.errors import ConfigurationError, DicomError
from qkeras.medical.dicom import DicomMeta, read


def sample(name: str) -> str:
    """A pydicom test file, from pydicom itself or the pydicom-data package; never fetched."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} needs the pydicom-data package (pip install pydicom-data)")
    return path


def stored(name: str) -> tuple[np.ndarray, pydicom.Dataset]:
    ds = pydicom.dcmread(sample(name))
    return ds.pixel_array.astype(np.float64), ds


def linear_window(x: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 (LINEAR) with output range [0, 1]."""
    c, w = center - 0.5, width - 1.0
    return np.clip((x - c) / w + 0.5, 0.0, 1.0)


def lut(x: np.ndarray, descriptor, data) -> np.ndarray:
    """PS3.3 C.11.1.1 / C.11.2.1.1 LUT lookup: clamp to the first/last entry."""
    entries, first = descriptor[0] or 65536, descriptor[1]
    index = np.clip(x - first, 0, entries - 1).astype(np.int64)
    return np.asarray(data, dtype=np.float64)[index]


def test_ct_rescale_gives_hounsfield_units():
    raw, ds = stored("CT_small.dcm")
    image, meta = read(sample("CT_small.dcm"), window=None)
    assert image.dtype == np.float32 and image.shape == (128, 128)
    np.testing.assert_array_equal(image, raw * float(ds.RescaleSlope) + float(ds.RescaleIntercept))
    assert meta == DicomMeta("CT", "MONOCHROME2", (0.661468, 0.661468), 128, 128, 1, "none",
                             None)


def test_explicit_window_follows_the_linear_formula():
    raw, ds = stored("CT_small.dcm")
    hu = raw * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    image, meta = read(sample("CT_small.dcm"), window=(40, 400), normalize=True)
    np.testing.assert_allclose(image, linear_window(hu, 40, 400), atol=1e-6)
    assert (meta.voi, meta.window) == ("window", (40.0, 400.0))


def test_auto_window_uses_the_files_first_window():
    raw, ds = stored("MR_small.dcm")
    image, meta = read(sample("MR_small.dcm"), normalize=True)
    assert meta.window == (float(ds.WindowCenter), float(ds.WindowWidth)) == (600.0, 1600.0)
    np.testing.assert_allclose(image, linear_window(raw, 600, 1600), atol=1e-6)


def test_explicit_window_replaces_a_voi_lut_sequence():
    raw, _ = stored("vlut_04.dcm")
    image, meta = read(sample("vlut_04.dcm"), window=(128, 256), normalize=True)
    np.testing.assert_allclose(image, linear_window(raw, 128, 256), atol=1e-6)
    assert meta.voi == "window"


def test_voi_lut_sequence_is_looked_up():
    raw, ds = stored("vlut_04.dcm")
    item = ds.VOILUTSequence[0]
    image, meta = read(sample("vlut_04.dcm"))
    np.testing.assert_array_equal(image, lut(raw, item.LUTDescriptor, item.LUTData))
    assert (meta.voi, meta.window) == ("lut", None)


def test_modality_lut_sequence_is_looked_up():
    raw, ds = stored("mlut_18.dcm")
    item = ds.ModalityLUTSequence[0]
    image, _ = read(sample("mlut_18.dcm"), window=None)
    np.testing.assert_array_equal(image, lut(raw, item.LUTDescriptor, item.LUTData))


def test_monochrome1_is_inverted_so_higher_is_brighter():
    raw, ds = stored("RG1_UNCI.dcm")
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    image, _ = read(sample("RG1_UNCI.dcm"), window=None)
    np.testing.assert_array_equal(image, (2 ** ds.BitsStored - 1) - raw)
    windowed, meta = read(sample("RG1_UNCI.dcm"), normalize=True)
    center, width = meta.window
    np.testing.assert_allclose(windowed, 1.0 - linear_window(raw, center, width), atol=1e-6)


def test_monochrome2_is_not_inverted():
    raw, _ = stored("MR_small.dcm")
    image, _ = read(sample("MR_small.dcm"), window=None)
    np.testing.assert_array_equal(image, raw)


def test_multiframe_returns_frames_rows_columns():
    raw, _ = stored("emri_small.dcm")
    image, meta = read(sample("emri_small.dcm"), window=None)
    assert image.shape == (10, 64, 64) and meta.frames == 10
    np.testing.assert_array_equal(image, raw)


def test_enhanced_multiframe_takes_rescale_and_window_from_functional_groups():
    raw, ds = stored("eCT_Supplemental.dcm")
    shared = ds.SharedFunctionalGroupsSequence[0]
    rescale = shared.PixelValueTransformationSequence[0]
    voi = shared.FrameVOILUTSequence[0]
    hu = raw * float(rescale.RescaleSlope) + float(rescale.RescaleIntercept)
    image, _ = read(sample("eCT_Supplemental.dcm"), window=None)
    assert image.shape == (2, 512, 512)
    np.testing.assert_array_equal(image, hu)
    windowed, meta = read(sample("eCT_Supplemental.dcm"), normalize=True)
    assert meta.window == (float(voi.WindowCenter), float(voi.WindowWidth))
    np.testing.assert_allclose(windowed, linear_window(hu, *meta.window), atol=1e-6)
    assert meta.pixel_spacing == tuple(float(v) for v in
                                       shared.PixelMeasuresSequence[0].PixelSpacing)


@pytest.mark.parametrize("name, frames", [("SC_rgb.dcm", 1), ("SC_rgb_rle_2frame.dcm", 2)])
def test_rgb_stays_rgb(name, frames):
    raw, _ = stored(name)
    image, meta = read(sample(name), window=(10, 10))  # windows do not apply to color
    expected = (100, 100, 3) if frames == 1 else (frames, 100, 100, 3)
    assert image.shape == expected and meta.voi == "none"
    np.testing.assert_array_equal(image, raw)


def test_palette_color_is_expanded_to_rgb():
    ds = pydicom.dcmread(sample("OBXXXX1A.dcm"))
    index = ds.pixel_array.astype(np.int64)
    first = int(ds.RedPaletteColorLookupTableDescriptor[1])
    red = np.frombuffer(ds.RedPaletteColorLookupTableData, dtype="<u2")
    image, meta = read(sample("OBXXXX1A.dcm"))
    assert meta.photometric_interpretation == "PALETTE COLOR"
    assert image.shape == (600, 800, 3)
    np.testing.assert_array_equal(image[..., 0], red[np.clip(index - first, 0, len(red) - 1)])


@pytest.mark.parametrize("name, reference, syntax, tolerance", [
    ("MR_small_RLE.dcm", "MR_small.dcm", RLELossless, 0),
    ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm", JPEGLSLossless, 0),
    ("MR_small_jp2klossless.dcm", "MR_small.dcm", JPEG2000Lossless, 0),
    ("SC_rgb_jpeg_dcmtk.dcm", "SC_rgb.dcm", JPEGBaseline8Bit, 8),  # lossy
])
def test_compressed_syntaxes_decode_to_the_uncompressed_image(name, reference, syntax,
                                                              tolerance):
    assert pydicom.dcmread(sample(name)).file_meta.TransferSyntaxUID == syntax
    image, _ = read(sample(name), window=None)
    expected, _ = read(sample(reference), window=None)
    assert image.shape == expected.shape
    difference = np.abs(image - expected)
    assert difference.max() <= tolerance
    assert difference.mean() <= tolerance / 8


def test_normalize_without_voi_stretches_to_unit_range():
    image, _ = read(sample("CT_small.dcm"), window=None, normalize=True)
    assert image.min() == 0.0 and image.max() == 1.0 and image.dtype == np.float32


# Errors: what is wrong, the path, the fix; never a patient value.

def _phi(path: str) -> list[str]:
    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    values = [str(ds.get(k, "")) for k in ("PatientName", "PatientID", "PatientBirthDate")]
    return [v for v in values if len(v) > 2]


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DicomError, match="no such file"):
        read(tmp_path / "absent.dcm")


def test_non_dicom_file_is_refused(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("not an image")
    with pytest.raises(DicomError, match=r"notes\.dcm.*not a DICOM Part 10 file"):
        read(path)


def test_no_pixel_data_names_the_object_but_no_patient_value():
    path = sample("rtplan.dcm")
    with pytest.raises(DicomError, match="no Pixel Data.*RT Plan Storage") as info:
        read(path)
    assert path in str(info.value)
    assert _phi(path) and not any(v in str(info.value) for v in _phi(path))


def test_truncated_pixel_data_is_an_error_without_patient_values():
    path = sample("MR_truncated.dcm")
    with pytest.raises(DicomError, match="truncated or corrupt") as info:
        read(path)
    assert path in str(info.value)
    assert "CompressedSamples^MR1" in _phi(path)
    assert not any(v in str(info.value) for v in _phi(path))


def test_truncated_header_is_an_error(tmp_path):
    data = open(sample("CT_small.dcm"), "rb").read()
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[:1000])
    with pytest.raises(DicomError, match="cut.dcm") as info:
        read(path)
    assert "CompressedSamples" not in str(info.value)


def test_undecodable_stream_is_an_error():
    # A real JPEG Extended file that libjpeg rejects (known-bad markers).
    with pytest.raises(DicomError, match="rejected the compressed stream"):
        read(sample("JPEG-lossy.dcm"))


def test_missing_decoder_says_how_to_install(monkeypatch):
    def no_plugin(self):
        raise RuntimeError("Unable to decompress: all plugins are missing dependencies")

    monkeypatch.setattr(pydicom.Dataset, "pixel_array", property(no_plugin))
    with pytest.raises(DicomError, match=r"no decoder.*pip install"):
        read(sample("MR_small_jp2klossless.dcm"))


@pytest.mark.parametrize("window", [(40, 0), "bright", (1, 2, 3)])
def test_bad_window_is_a_configuration_error(window):
    with pytest.raises(ConfigurationError, match="window"):
        read(sample("CT_small.dcm"), window=window)


def test_quiet_pydicom_restores_settings_after_overlapping_threads():
    """Regression: parallel decodes (tf.data) once left pydicom's validation switched off."""
    import threading

    from pydicom import config as pydicom_config

    from qkeras.medical.dicom import _quiet_pydicom

    before = pydicom_config.settings.reading_validation_mode
    first_in, second_in, release = threading.Event(), threading.Event(), threading.Event()

    def hold(entered):
        with _quiet_pydicom():
            entered.set()
            release.wait(5)

    a = threading.Thread(target=hold, args=(first_in,))
    a.start()
    first_in.wait(5)
    b = threading.Thread(target=hold, args=(second_in,))
    b.start()
    second_in.wait(5)
    assert pydicom_config.settings.reading_validation_mode == pydicom_config.IGNORE
    release.set()
    a.join(5)
    b.join(5)
    assert pydicom_config.settings.reading_validation_mode == before
