"""Medical imaging: DICOM IO, de-identification, data sets, clinical metrics, explanations.

``qkeras.medical.explain`` (tf-explain, OpenCV) is imported on first use.

Example:
    >>> from qkeras import medical
    >>> medical.sensitivity([1, 1, 0, 0], [1, 0, 0, 0])
    0.5
"""

import importlib as _importlib

from qkeras.medical.datasets import (
    KERMANY_PATIENT_PATTERN,
    DuplicateReport,
    ImageFolderData,
    MedMNISTData,
    image_folder,
    medmnist,
    patient_split,
)
from qkeras.medical.deid import (
    AuditRecord,
    Deidentifier,
    Failure,
    Report,
    deidentify_tree,
    read_key,
)
from qkeras.medical.dicom import DicomMeta, read
from qkeras.medical.metrics import (
    ClinicalReport,
    Estimate,
    accuracy,
    auprc,
    auroc,
    bootstrap,
    brier_score,
    confusion_matrix,
    evaluate,
    expected_calibration_error,
    f1,
    npv,
    ppv,
    sensitivity,
    specificity,
    threshold_at_sensitivity,
    youden_threshold,
)

__all__ = [
    "AuditRecord", "ClinicalReport", "Deidentifier", "DicomMeta", "DuplicateReport",
    "Estimate", "Failure", "ImageFolderData", "KERMANY_PATIENT_PATTERN", "MedMNISTData",
    "Report", "accuracy", "auprc", "auroc", "bootstrap", "brier_score", "confusion_matrix",
    "deidentify_tree", "evaluate", "expected_calibration_error", "explain", "f1",
    "image_folder", "medmnist", "npv", "patient_split", "ppv", "read", "read_key",
    "sensitivity", "specificity", "threshold_at_sensitivity", "youden_threshold",
]


def __getattr__(name):
    if name == "explain":
        module = _importlib.import_module("qkeras.medical.explain")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'qkeras.medical' has no attribute {name!r}")
