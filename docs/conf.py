"""Sphinx configuration of the qkeras documentation (built with -W: warnings fail)."""

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.abspath(".."))

from qkeras._version import __version__  # noqa: E402

project = "qkeras"
author = "the qkeras authors"
copyright = "2026, the qkeras authors"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Keras layers inherit hundreds of Keras members; document only ours.
autodoc_inherit_docstrings = False
suppress_warnings = ["ref.python"]
nitpicky = False
html_theme = "alabaster"
exclude_patterns = ["_build"]
