"""What every tab shares: the app's context, how handlers are bound to it, the language registry.

Handlers are module-level functions whose first parameter is the :class:`AppContext`; the layout
binds them with :func:`bind`. Widgets whose text follows the language switch are registered in a
:class:`Texts` built once per app, so nothing here is module-level mutable state.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import pandas as pd

from analyzer import AnalysisConfig

from ..auth import ADMIN, REVIEWER, Users
from ..i18n import t
from ..store import Store
from ..views import UploadLimits
from .served import ServedFiles

C = TypeVar("C")


@dataclass(frozen=True)
class AppContext:
    """What the handlers work on: one per app, never changed after the app is built."""

    store: Store  # the call library
    analyzer: Any  # the engine: anything with ``.analyze(path, config=, progress=)``
    limits: UploadLimits  # what uploads may weigh and last
    base_config: AnalysisConfig  # the engine's options; the Analyze tab overrides a few per run
    samples: tuple[Path, ...]  # the bundled recordings offered on the Analyze tab
    users: Users | None = None  # the accounts and their roles; None: a local app without login
    served: ServedFiles = field(default_factory=ServedFiles)  # what the browser may fetch


def bind(handler: Callable, *bound: Any) -> Callable:
    """``handler`` with its first arguments fixed to ``bound``, in a form Gradio can wire.

    Gradio reads a handler's signature and type hints to pass ``gr.Request``, ``gr.SelectData``
    and ``gr.Progress`` and to name the API's parameters. ``functools.partial`` hides the type
    hints from it, so the bound handler keeps the original's signature minus the bound parameters.
    A generator handler stays a generator function (Gradio streams its updates).
    """

    if inspect.isgeneratorfunction(handler):

        def call(*args: Any, **kwargs: Any) -> Any:
            yield from handler(*bound, *args, **kwargs)

    else:

        def call(*args: Any, **kwargs: Any) -> Any:
            return handler(*bound, *args, **kwargs)

    functools.update_wrapper(call, handler)
    signature = inspect.signature(handler)
    rest = list(signature.parameters.values())[len(bound) :]
    call.__signature__ = signature.replace(parameters=rest)  # type: ignore[attr-defined]
    return call


def user_of(request: gr.Request | None) -> str:
    """The logged-in reviewer's name, ``local`` without a login."""
    return (getattr(request, "username", None) or "local") if request else "local"


def role_of(ctx: AppContext, request: gr.Request | None) -> str:
    """The requesting user's role: ``admin`` or ``reviewer``.

    Without accounts (``ctx.users`` None) and without a login, the one local user is the admin;
    a logged-in name the accounts do not know is a reviewer.
    """
    name = getattr(request, "username", None) if request else None
    if ctx.users is None:
        return ADMIN if name is None else REVIEWER
    return ctx.users.role(name) or REVIEWER


def require_admin(ctx: AppContext, request: gr.Request | None, lang: str) -> None:
    """Raise ``gr.Error`` unless the requesting user is an admin."""
    if role_of(ctx, request) != ADMIN:
        raise gr.Error(t("msg_admin_only", lang))


def frame(rows: list[list], headers: list[str]) -> pd.DataFrame:
    """A table for a ``gr.Dataframe``."""
    return pd.DataFrame(rows, columns=headers)


def selected_row(evt: gr.SelectData) -> int:
    """The table row a select event points at."""
    return evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index


def choices(keys: Iterable[str], prefix: str, lang: str) -> list[tuple[str, str]]:
    """Dropdown choices ``(translated name, key)``; the name is the string ``prefix + key``."""
    return [(t(prefix + k, lang), k) for k in keys]


class Texts:
    """The widgets whose text depends on the language, each with how to redraw it in another one.

    Built once per app while the layout is made; the language switch sends :meth:`updates` to
    :meth:`components`, in the same order.
    """

    def __init__(self) -> None:
        self._entries: list[tuple[Any, Callable[[str], dict]]] = []

    def key(self, component: C, key: str, attr: str = "label") -> C:
        """Register ``component`` whose ``attr`` is the string ``key``; returns the component."""
        self._entries.append((component, lambda lg: {attr: t(key, lg)}))
        return component

    def dropdown(
        self, label: str, options: Callable[[str], list], lang: str, **kwargs: Any
    ) -> gr.Dropdown:
        """A dropdown whose label (the string ``label``) and choices (``options(lang)``) follow
        the language; ``kwargs`` go to ``gr.Dropdown`` (value, elem_id...)."""
        return self.redraw(
            gr.Dropdown(options(lang), label=t(label, lang), **kwargs),
            lambda lg: {"label": t(label, lg), "choices": options(lg)},
        )

    def redraw(self, component: C, props: Callable[[str], dict]) -> C:
        """Register ``component`` whose properties in a language are ``props(lang)``."""
        self._entries.append((component, props))
        return component

    def components(self) -> list:
        return [c for c, _ in self._entries]

    def updates(self, lang: str) -> list:
        return [gr.update(**props(lang)) for _, props in self._entries]
