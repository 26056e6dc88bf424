"""Exceptions raised by nbautoml.

Every error a user can cause carries a short ``code`` (stable, for tests and
programs) and a message that says what was wrong and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class NbAutoMLError(Exception):
    """Base class of nbautoml's errors.

    Parameters
    ----------
    message : str
        What was wrong and how to fix it.
    code : str, default="error"
        A stable identifier such as ``"target_not_found"``.
    """

    code = "error"

    def __init__(self, message: str, code: str | None = None, **details):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.details = details


class DataError(NbAutoMLError, ValueError):
    """The data cannot be used as given (missing target, inf values, ...)."""

    code = "bad_data"


class ConfigError(NbAutoMLError, ValueError):
    """An option has a value that is not allowed (unknown metric, negative budget, ...)."""

    code = "bad_option"


class SearchFailedError(NbAutoMLError, RuntimeError):
    """No trial of a search succeeded."""

    code = "all_trials_failed"


class NotFittedError(NbAutoMLError, AttributeError):
    """The object has not been fitted yet."""

    code = "not_fitted"


class ArtifactError(NbAutoMLError):
    """A model artifact cannot be written or read (``code`` says why)."""

    code = "artifact_error"


class IntegrityError(ArtifactError):
    """The artifact is truncated, damaged or was modified after it was saved."""

    code = "artifact_corrupt"


class UntrustedArtifactError(ArtifactError):
    """The artifact holds types outside nbautoml's allowlist (``details["types"]``)."""

    code = "untrusted_types"

    def for_option(self, option: str = "--trusted") -> UntrustedArtifactError | None:
        """The same refusal telling to add ``option TYPE`` for each type (the command line's and
        the magics' way) instead of ``trusted=[...]``; None when the types are not known."""
        types = self.details.get("types") or []
        head, found, _ = str(self).partition(" pass trusted=")
        if not types or not found:
            return None
        return UntrustedArtifactError(f"{head} add {' '.join(f'{option} {t}' for t in types)}.", **self.details)


class EnvironmentMismatchError(ArtifactError):
    """The model was saved with library versions that do not match this environment."""

    code = "environment_mismatch"


def closest(name: str, choices: Iterable[str], n: int = 1) -> list[str]:
    """Return the choices closest to ``name`` (case-insensitive)."""
    choices = [str(c) for c in choices]
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(str(name).lower(), list(lowered), n=n, cutoff=0.5)
    return [lowered[h] for h in hits]


def unknown_choice(kind: str, value: str, valid: Iterable[str], code: str) -> ConfigError:
    """Build the error for a name that is not one of the valid ones."""
    valid = list(valid)
    hint = closest(value, valid)
    did_you_mean = f" Did you mean {hint[0]!r}?" if hint else ""
    return ConfigError(
        f"Unknown {kind} {value!r}.{did_you_mean} Valid {kind}s: {', '.join(valid)}.",
        code=code,
        value=value,
        valid=valid,
    )
