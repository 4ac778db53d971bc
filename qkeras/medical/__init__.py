"""Medical imaging: DICOM IO, de-identification, data sets, clinical metrics, explanations."""
