"""Unlearning methods. Importing this package registers every built-in method."""

from unlearnlab.methods import ga, graddiff, kl, npo, npo_retain  # noqa: F401  (registration)
from unlearnlab.methods.base import METHODS, MethodSpec, register_method

__all__ = ["METHODS", "MethodSpec", "register_method"]
