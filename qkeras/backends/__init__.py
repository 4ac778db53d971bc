"""Backends: how a parameterised circuit is executed."""
