"""Vendor credentials, read from each vendor's usual environment variables or files.

==========  ==========================================================================
vendor      where the credential is looked for, in order
==========  ==========================================================================
IBM         ``QISKIT_IBM_TOKEN`` (with ``QISKIT_IBM_INSTANCE``, ``QISKIT_IBM_CHANNEL``);
            else the account saved by ``QiskitRuntimeService.save_account`` in
            ``~/.qiskit/qiskit-ibm.json``
Google      ``GOOGLE_CLOUD_PROJECT`` for the project, and Application Default
            Credentials (``GOOGLE_APPLICATION_CREDENTIALS`` or the file written by
            ``gcloud auth application-default login``)
Rigetti     QCS settings: ``QCS_SETTINGS_FILE_PATH`` / ``QCS_SECRETS_FILE_PATH``, else
            ``~/.qcs/settings.toml`` and ``~/.qcs/secrets.toml`` (``qcs auth login``)
==========  ==========================================================================

A credential's value is never logged nor put in an error message; :func:`redact` removes
it from a vendor's message before qkeras re-raises it.

Example:
    >>> import os
    >>> os.environ.pop("GOOGLE_CLOUD_PROJECT", None) and None
    >>> try:
    ...     google_project()
    ... except CredentialsError as err:
    ...     print(str(err).split(";")[0])
    No Google Cloud project for the Quantum Engine
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from qkeras.errors import CredentialsError

log = logging.getLogger(__name__)

__all__ = ["ibm_account", "google_project", "rigetti_settings", "redact", "SECRET_VARIABLES"]

#: Environment variables whose values are secrets, removed from any vendor message.
SECRET_VARIABLES = ("QISKIT_IBM_TOKEN",)


def redact(message: str) -> str:
    """Returns ``message`` with every secret credential's value replaced by ``***``.

    Example:
        >>> os.environ["QISKIT_IBM_TOKEN"] = "abc123secret"
        >>> redact("login failed for token abc123secret")
        'login failed for token ***'
        >>> del os.environ["QISKIT_IBM_TOKEN"]
    """
    for name in SECRET_VARIABLES:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            message = message.replace(value, "***")
    return message


def ibm_account() -> dict:
    """Returns the keyword arguments of ``QiskitRuntimeService`` for this user.

    Returns:
        ``{"token", "channel", "instance"}`` from the environment, or ``{}`` when a saved
        account exists (``QiskitRuntimeService()`` reads it).

    Raises:
        CredentialsError: Naming ``QISKIT_IBM_TOKEN`` when neither is found.

    Example:
        >>> os.environ["QISKIT_IBM_TOKEN"] = "t0ken-value"
        >>> sorted(ibm_account())
        ['channel', 'instance', 'token']
        >>> del os.environ["QISKIT_IBM_TOKEN"]
    """
    token = os.environ.get("QISKIT_IBM_TOKEN")
    if token:
        log.debug("IBM credential: QISKIT_IBM_TOKEN is set")
        return {"token": token,
                "channel": os.environ.get("QISKIT_IBM_CHANNEL", "ibm_quantum_platform"),
                "instance": os.environ.get("QISKIT_IBM_INSTANCE")}
    saved = Path.home() / ".qiskit" / "qiskit-ibm.json"
    if saved.is_file():
        log.debug("IBM credential: using the saved account in %s", saved)
        return {}
    raise CredentialsError(
        "No IBM Quantum credentials: set QISKIT_IBM_TOKEN to your API key (and "
        "QISKIT_IBM_INSTANCE to your instance's CRN), or save an account once with "
        "QiskitRuntimeService.save_account(token=..., instance=...). For offline runs use "
        "a fake backend such as 'ibm:fake_manila'.")


def google_project() -> str:
    """Returns the Google Cloud project of the Quantum Engine.

    Raises:
        CredentialsError: Naming ``GOOGLE_CLOUD_PROJECT`` or
            ``GOOGLE_APPLICATION_CREDENTIALS`` when one is missing.

    Example:
        >>> os.environ["GOOGLE_CLOUD_PROJECT"] = "my-project"
        >>> os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = __file__
        >>> google_project()
        'my-project'
        >>> del os.environ["GOOGLE_CLOUD_PROJECT"], os.environ["GOOGLE_APPLICATION_CREDENTIALS"]
    """
    project = os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        raise CredentialsError(
            "No Google Cloud project for the Quantum Engine; set GOOGLE_CLOUD_PROJECT to the "
            "project that has the Quantum Engine API enabled. For offline runs use the "
            "virtual engine, e.g. 'google:virtual_rainbow'.")
    adc = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    default = Path.home() / ".config" / "gcloud" / "application_default_credentials.json"
    if not ((adc and Path(adc).is_file()) or default.is_file()):
        raise CredentialsError(
            "No Google Application Default Credentials: run `gcloud auth "
            "application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service "
            "account key file.")
    return project


def rigetti_settings() -> tuple[Path, Path]:
    """Returns the QCS settings and secrets files.

    Raises:
        CredentialsError: Naming ``QCS_SECRETS_FILE_PATH`` (or ``QCS_SETTINGS_FILE_PATH``)
            when the file is missing.

    Example:
        >>> os.environ["QCS_SETTINGS_FILE_PATH"] = os.environ["QCS_SECRETS_FILE_PATH"] = __file__
        >>> [p.name for p in rigetti_settings()]
        ['credentials.py', 'credentials.py']
        >>> del os.environ["QCS_SETTINGS_FILE_PATH"], os.environ["QCS_SECRETS_FILE_PATH"]
    """
    home = Path.home() / ".qcs"
    found = []
    for variable, default in (("QCS_SETTINGS_FILE_PATH", home / "settings.toml"),
                              ("QCS_SECRETS_FILE_PATH", home / "secrets.toml")):
        path = Path(os.environ.get(variable) or default).expanduser()
        if not path.is_file():
            raise CredentialsError(
                f"No Rigetti QCS credentials: {path} does not exist. Run `qcs auth login` "
                f"(QCS CLI), or set {variable} to the file's path. For offline runs use a "
                "local simulator such as 'rigetti:9q-square-pyqvm'.")
        found.append(path)
    return found[0], found[1]
