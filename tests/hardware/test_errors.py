"""Credentials, job failures, retries and the layer's configuration on hardware."""

import json
import logging

import cirq
import numpy as np
import pytest

from qkeras import hardware
from qkeras.errors import ConfigurationError, CredentialsError, HardwareError
from qkeras.hardware import credentials
from qkeras.hardware._sampler import submit_with_retries
from qkeras.layers import QuantumDense

TOKEN = "s3cret-t0ken-value-42"


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    for name in ("QISKIT_IBM_TOKEN", "GOOGLE_CLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS",
                 "QCS_SETTINGS_FILE_PATH", "QCS_SECRETS_FILE_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.mark.parametrize("spec,variable", [
    ("ibm:ibm_brisbane", "QISKIT_IBM_TOKEN"),
    ("google:rainbow", "GOOGLE_CLOUD_PROJECT"),
    ("rigetti:Ankaa-3", "QCS_SETTINGS_FILE_PATH"),
])
def test_a_missing_credential_names_the_variable(no_credentials, spec, variable):
    with pytest.raises(CredentialsError, match=variable):
        hardware.sampler(spec)


def test_google_needs_application_default_credentials(no_credentials, monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    with pytest.raises(CredentialsError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        credentials.google_project()


def test_the_token_never_reaches_logs_or_errors(no_credentials, monkeypatch, caplog):
    import qiskit_ibm_runtime

    monkeypatch.setenv("QISKIT_IBM_TOKEN", TOKEN)

    class Service:  # the vendor echoes the token in its error, as some do
        def __init__(self, **kwargs):
            assert kwargs["token"] == TOKEN
            raise ValueError(f"login failed for token {kwargs['token']}")

    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", Service)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(HardwareError) as info:
        hardware.sampler("ibm:ibm_brisbane")
    assert "***" in str(info.value)
    assert TOKEN not in str(info.value) and TOKEN not in caplog.text
    assert info.value.__cause__ is None  # the vendor's message (with the token) is dropped


def test_a_failed_job_reports_its_id(monkeypatch):
    import qiskit_ibm_runtime
    from qiskit_ibm_runtime.exceptions import RuntimeJobFailureError

    class Job:
        def job_id(self):
            return "job-7f3a"

        def result(self, **kwargs):
            raise RuntimeJobFailureError("Error code 1234: circuit too long")

    class Sampler:
        def __init__(self, **kwargs):
            pass

        def run(self, pubs):
            return Job()

    monkeypatch.setattr(qiskit_ibm_runtime, "SamplerV2", Sampler)
    q = cirq.LineQubit(0)
    with pytest.raises(HardwareError, match="job job-7f3a on fake_manila failed.*1234"):
        hardware.sampler("ibm:fake_manila").run(cirq.Circuit(cirq.measure(q)))


def test_retries_are_bounded():
    calls = []

    def down():
        calls.append(1)
        error = TimeoutError("gateway timeout")
        error.job_id = "j-1"
        raise error

    with pytest.raises(HardwareError, match=r"after 3 tries \(job id j-1\)"):
        submit_with_retries(down, vendor="Rigetti QCS", retries=2, backoff_s=0.0)
    assert len(calls) == 3


def test_layer_config_stores_the_sampler_by_name():
    sampler = hardware.sampler("rigetti:4q-pyqvm")
    layer = QuantumDense(2, backend=sampler, repetitions=100)
    config = json.loads(json.dumps(layer.get_config()))
    assert config["backend"] == "rigetti:4q-pyqvm"
    rebuilt = QuantumDense.from_config(config)
    assert rebuilt.executed_on == "rigetti:4q-pyqvm" and rebuilt.get_config() == config


def test_layer_with_a_foreign_sampler_cannot_be_saved():
    layer = QuantumDense(1, backend=cirq.Simulator(seed=0), repetitions=50)
    assert layer(np.zeros((2, 1), np.float32)).shape == (2, 1)
    with pytest.raises(ConfigurationError, match="cannot be saved in a config"):
        layer.get_config()


@pytest.mark.parametrize("kwargs,match", [
    ({}, "set repetitions"),
    ({"repetitions": 10, "noise": "depolarizing:0.01"}, "brings its own noise"),
    ({"repetitions": 10, "differentiator": "adjoint"}, "adjoint"),
])
def test_hardware_layer_arguments_are_checked(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        QuantumDense(1, backend="rigetti:4q-pyqvm", **kwargs)


@pytest.mark.parametrize("spec,match", [("ibm", "vendor:device"), ("dwave:x", "Choices"),
                                        ("google:virtual_sycamore", "virtual_rainbow"),
                                        ("ibm:fake_manilla", "fake_manila")])
def test_bad_hardware_names(spec, match):
    with pytest.raises(ConfigurationError, match=match):
        hardware.sampler(spec)


def test_mitigate_readout_needs_hardware():
    with pytest.raises(ConfigurationError, match="hardware backends only"):
        QuantumDense(1, backend="tfq", mitigate_readout=True)
