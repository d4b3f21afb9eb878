"""The Settings tab (admins only): the team's defaults and its retention of calls.

Five settings, stored by :meth:`Store.set_team_setting` (validated there, audited as
``settings``): whether uploads are redacted by default, whether every recording is a
conversation (a mixed upload is then diarized into at least two voices), whether a long
telephone recording may be one voice (a voicemail: the engine otherwise takes it as a
conversation), after how many days
calls are deleted (empty: keep forever), and the file-name pattern that finds a call's agent,
with a live preview on an example name. "Apply retention now" first lists what would go, then
deletes it on confirmation (:meth:`Store.purge_expired`, each deletion audited with its
reason). The app also applies the retention once when it starts (:func:`apply_retention`).

Reviewers never see the tab, and every handler refuses them with a plain message.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import gradio as gr

from ..auth import ADMIN
from ..i18n import t
from ..store import CallFilter, CallRecord, Store, StoreError, agent_from_name
from .common import AppContext, Texts, require_admin, role_of, user_of

log = logging.getLogger(__name__)

EXAMPLE_NAME = "ana_2026-03-14_0930.wav"  # the preview's starting example file name
ALL_CALLS = 10**9  # list_calls' limit when every call is needed


@dataclass(frozen=True)
class SettingsTab:
    """The Settings tab's widgets."""

    tab: gr.Tab
    redact: gr.Checkbox
    redact_msg: gr.Markdown
    conversations: gr.Checkbox  # saved with the fields, taken last by save_settings
    conversations_msg: gr.Markdown
    phone_one_voice: gr.Checkbox  # saved with the fields, taken after conversations
    phone_one_voice_msg: gr.Markdown
    retention: gr.Textbox
    retention_msg: gr.Markdown
    pattern: gr.Textbox
    pattern_msg: gr.Markdown
    example: gr.Textbox
    preview: gr.Markdown
    save: gr.Button
    purge: gr.Button
    purge_list: gr.Markdown
    confirm_row: gr.Row
    confirm: gr.Button
    cancel: gr.Button
    purge_at: gr.State  # when the list was made: the confirmation deletes what it showed

    def fields(self) -> list:
        """The settings' widgets, in the order :func:`save_settings` takes them."""
        return [self.redact, self.retention, self.pattern]

    def messages(self) -> list:
        """The message beside each field, in the order of :meth:`fields`."""
        return [self.redact_msg, self.retention_msg, self.pattern_msg]


def build_settings_tab(texts: Texts, lang: str) -> SettingsTab:
    """The tab's layout (call inside ``gr.Tabs``); hidden until the page load finds an admin."""
    tab_label = gr.Tab(t("tab_settings", lang), id="settings", visible=False)
    with texts.key(tab_label, "tab_settings") as tab:
        texts.key(gr.Markdown(t("settings_intro", lang)), "settings_intro", "value")
        with gr.Row():
            redact = texts.key(
                gr.Checkbox(label=t("set_redact", lang), elem_id="set-redact"), "set_redact"
            )
            redact_msg = gr.Markdown(elem_id="set-redact-msg")
        with gr.Row():
            conversations = _explained_box(texts, "set_conversations", lang)
            conversations_msg = gr.Markdown(elem_id="set-conversations-msg")
        with gr.Row():
            phone_one_voice = _explained_box(texts, "set_phone_one_voice", lang)
            phone_one_voice_msg = gr.Markdown(elem_id="set-phone-one-voice-msg")
        with gr.Row():
            retention = texts.redraw(
                gr.Textbox(
                    label=t("set_retention", lang),
                    placeholder=t("set_retention_help", lang),
                    elem_id="set-retention",
                ),
                lambda lg: {
                    "label": t("set_retention", lg),
                    "placeholder": t("set_retention_help", lg),
                },
            )
            retention_msg = gr.Markdown(elem_id="set-retention-msg")
        with gr.Row():
            pattern = texts.redraw(
                gr.Textbox(
                    label=t("set_pattern", lang),
                    placeholder="^(?P<agent>[a-z]+)_",
                    info=t("set_pattern_help", lang),
                    elem_id="set-pattern",
                ),
                lambda lg: {"label": t("set_pattern", lg), "info": t("set_pattern_help", lg)},
            )
            pattern_msg = gr.Markdown(elem_id="set-pattern-msg")
        with gr.Row():
            example = texts.key(
                gr.Textbox(EXAMPLE_NAME, label=t("set_example", lang), elem_id="set-example"),
                "set_example",
            )
            preview = gr.Markdown(elem_id="set-preview")
        save = texts.key(
            gr.Button(t("set_save", lang), variant="primary", elem_id="set-save"),
            "set_save",
            "value",
        )
        texts.key(gr.Markdown(t("set_purge_intro", lang)), "set_purge_intro", "value")
        purge = texts.key(
            gr.Button(t("set_purge", lang), elem_id="set-purge"), "set_purge", "value"
        )
        purge_list = gr.Markdown(elem_id="set-purge-list")
        with gr.Row(visible=False) as confirm_row:
            confirm = texts.key(
                gr.Button(t("set_purge_confirm", lang), variant="stop", elem_id="set-purge-yes"),
                "set_purge_confirm",
                "value",
            )
            cancel = texts.key(gr.Button(t("cancel", lang)), "cancel", "value")
        purge_at = gr.State("")
    return SettingsTab(
        tab=tab,
        redact=redact,
        redact_msg=redact_msg,
        conversations=conversations,
        conversations_msg=conversations_msg,
        phone_one_voice=phone_one_voice,
        phone_one_voice_msg=phone_one_voice_msg,
        retention=retention,
        retention_msg=retention_msg,
        pattern=pattern,
        pattern_msg=pattern_msg,
        example=example,
        preview=preview,
        save=save,
        purge=purge,
        purge_list=purge_list,
        confirm_row=confirm_row,
        confirm=confirm,
        cancel=cancel,
        purge_at=purge_at,
    )


def _explained_box(texts: Texts, key: str, lang: str) -> gr.Checkbox:
    """A checkbox labelled by the string ``key`` and explained by ``key``_help, both following
    the language; its element id is ``key`` with dashes (``set-conversations``)."""
    return texts.redraw(
        gr.Checkbox(label=t(key, lang), info=t(f"{key}_help", lang), elem_id=key.replace("_", "-")),
        lambda lg: {"label": t(key, lg), "info": t(f"{key}_help", lg)},
    )


# ---- handlers (bound to the AppContext by the layout) -------------------------------------------


def load_settings(
    ctx: AppContext, example: str, lang: str, request: gr.Request | None = None
) -> tuple:
    """On page load, outputs of ``[tab, redact, retention, pattern, preview, conversations,
    phone_one_voice]``: the tab and the team's settings for an admin; for anyone else the tab
    stays hidden and the fields empty."""
    if role_of(ctx, request) != ADMIN:
        return gr.Tab(visible=False), *[gr.skip()] * 6
    settings = ctx.store.team_settings()
    pattern = settings["agent_pattern"]
    return (
        gr.Tab(visible=True),
        bool(settings["redact_default"]),
        days_text(settings["retention_days"]),
        pattern,
        preview_agent(pattern, example, lang),
        bool(settings["conversations"]),
        bool(settings["phone_one_voice"]),
    )


def save_settings(
    ctx: AppContext,
    redact: bool,
    retention: str | None,
    pattern: str | None,
    lang: str,
    request: gr.Request | None = None,
    conversations: bool | None = None,
    phone_one_voice: bool | None = None,
) -> tuple:
    """Store the settings that changed; outputs of ``[*messages, retention, analyze's redact
    box, conversations message, phone_one_voice message]``: beside each field "saved" or its
    plain error (nothing stored for that field). ``conversations`` or ``phone_one_voice`` None
    (an older client) leaves that setting as it is."""
    require_admin(ctx, request, lang)
    user = user_of(request)
    current = ctx.store.team_settings()
    messages = []
    days, problem = parse_days(retention, lang)
    fields = [
        ("redact_default", bool(redact), None),
        ("retention_days", days, problem),
        ("agent_pattern", (pattern or "").strip(), None),
    ]
    optional = {"conversations": conversations, "phone_one_voice": phone_one_voice}
    fields += [(key, bool(value), None) for key, value in optional.items() if value is not None]
    said = dict.fromkeys(optional, "")
    for key, value, bad in fields:
        if bad:
            message = "⚠️ " + bad
        elif value == current[key]:
            message = ""
        else:
            try:
                ctx.store.set_team_setting(key, value, by=user)
                message = "✅ " + t("set_saved", lang)
            except StoreError as exc:
                message = "⚠️ " + str(exc)
        if key in said:
            said[key] = message
        else:
            messages.append(message)
    saved = ctx.store.team_settings()
    shown = days_text(saved["retention_days"]) if not problem else gr.skip()
    redact_box = gr.Checkbox(value=bool(saved["redact_default"]))
    return (*messages, shown, redact_box, said["conversations"], said["phone_one_voice"])


def preview_agent(pattern: str | None, example: str | None, lang: str) -> str:
    """What the pattern finds in the example name, or why it cannot be used."""
    pattern = (pattern or "").strip()
    if not pattern:
        return t("set_preview_none", lang)
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return "⚠️ " + t("set_preview_invalid", lang, error=str(exc))
    if "agent" not in compiled.groupindex:
        return "⚠️ " + t("set_preview_no_group", lang)
    agent = agent_from_name(example or "", pattern)
    if not agent:
        return t("set_preview_no_match", lang, name=example or "")
    return t("set_preview", lang, name=example or "", agent=agent)


def ask_purge(ctx: AppContext, lang: str, request: gr.Request | None = None) -> tuple:
    """Outputs of ``[list, confirmation row, purge_at]``: the calls the saved retention (and
    refused consent) would delete now; the confirmation shows only when there are some."""
    require_admin(ctx, request, lang)
    now = datetime.now(UTC).replace(microsecond=0)
    days = ctx.store.team_settings()["retention_days"]
    doomed = expired_calls(ctx.store, days, now)
    rule = t("set_keep_days", lang, days=days_text(days)) if days else t("set_keep_forever", lang)
    if not doomed:
        return t("set_purge_nothing", lang, rule=rule), gr.Row(visible=False), ""
    lines = [t("set_purge_list", lang, n=len(doomed), rule=rule)]
    lines += [f"- {record.name} ({record.created_at[:10]}): {reason}" for record, reason in doomed]
    return "\n".join(lines), gr.Row(visible=True), now.isoformat()


def confirm_purge(
    ctx: AppContext, purge_at: str | None, lang: str, request: gr.Request | None = None
) -> tuple:
    """Outputs of ``[list, confirmation row]``: delete what :func:`ask_purge` listed (the same
    cut-off time), each deletion audited."""
    require_admin(ctx, request, lang)
    if not purge_at:
        return t("set_purge_ask_first", lang), gr.Row(visible=False)
    days = ctx.store.team_settings()["retention_days"]
    deleted = ctx.store.purge_expired(
        days, by=user_of(request), now=datetime.fromisoformat(purge_at)
    )
    for call_id in deleted:
        ctx.served.remove(call_id)
    return t("set_purged", lang, n=len(deleted)), gr.Row(visible=False)


def expired_calls(store: Store, days: float | None, now: datetime) -> list[tuple[CallRecord, str]]:
    """The calls ``Store.purge_expired(days, now=now)`` would delete, each with its reason."""
    cutoff = None
    if days is not None:
        cutoff = (now - timedelta(days=days)).astimezone(UTC).replace(microsecond=0).isoformat()
    doomed = []
    for record in reversed(store.list_calls(CallFilter(limit=ALL_CALLS))):
        if store.consent(record.id) == "refused":
            doomed.append((record, "consent refused"))
        elif cutoff is not None and record.created_at < cutoff:
            doomed.append((record, "retention"))
    return doomed


def apply_retention(store: Store, *, by: str = "retention") -> list[str]:
    """Apply the team's retention once (at start): delete expired and consent-refused calls,
    log what went. Returns the deleted ids."""
    days = store.team_settings()["retention_days"]
    deleted = store.purge_expired(days, by=by)
    if deleted:
        log.info(
            "retention (%s): deleted %d call(s): %s",
            f"{days:g} days" if days else "refused consent only",
            len(deleted),
            ", ".join(deleted),
        )
    else:
        log.info("retention: nothing to delete")
    return deleted


def parse_days(value: str | None, lang: str) -> tuple[float | None, str | None]:
    """The retention box's text as days (None: keep forever), or a plain problem."""
    text = (value or "").strip()
    if not text:
        return None, None
    try:
        days = float(text.replace(",", "."))
    except ValueError:
        return None, t("set_bad_days", lang, value=text)
    if not math.isfinite(days):
        return None, t("set_bad_days", lang, value=text)
    return days, None


def days_text(days: float | None) -> str:
    """Days as the box shows them: '' for keep forever, '30' rather than '30.0'."""
    return "" if days is None else f"{days:g}"
