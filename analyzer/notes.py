"""Notes: the caveats a result carries, each with a stable code and its parameters.

A ``Note`` *is* its English message (a ``str`` subclass), so every place that keeps notes as
text keeps working; it also carries ``code`` (a stable identifier such as ``truncated_input``)
and ``params`` (the numbers and names in the message), which the result's JSON stores beside the
message so the app can translate it (the contract's ``notes[]``: ``code``, ``params``,
``message``). A plain string becomes the code ``note`` with no parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PLAIN_CODE = "note"  # the code of a note given as a plain string


class Note(str):
    """An English note that also carries ``code`` and ``params``."""

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, message: str, **params: Any) -> Note:
        note = super().__new__(cls, message)
        note.code = code
        note.params = dict(params)
        return note

    @property
    def message(self) -> str:
        return str.__str__(self)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params), "message": self.message}

    def __reduce__(self) -> tuple[Any, ...]:  # pickle (batch workers) keeps code and params
        return (_rebuild, (self.code, self.message, self.params))


def _rebuild(code: str, message: str, params: Mapping[str, Any]) -> Note:
    return Note(code, message, **params)


def note_dict(note: str | Mapping[str, Any]) -> dict[str, Any]:
    """``{"code", "params", "message"}`` of a ``Note``, a plain string or such a dict."""
    if isinstance(note, Note):
        return note.to_dict()
    if isinstance(note, str):
        return {"code": PLAIN_CODE, "params": {}, "message": note}
    return {
        "code": str(note.get("code", PLAIN_CODE)),
        "params": dict(note.get("params") or {}),
        "message": str(note.get("message", "")),
    }


def note_from(data: str | Mapping[str, Any]) -> Note:
    """The ``Note`` that ``note_dict`` wrote (or a plain string) read back."""
    d = note_dict(data)
    return Note(d["code"], d["message"], **d["params"])
