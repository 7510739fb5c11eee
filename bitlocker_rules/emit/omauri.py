"""Custom OMA-URI profiles (``windows10CustomConfiguration``): the repaired settings written
as the values of their BitLocker CSP nodes.

A fact's ``csp`` origin is its node. A node of its own takes an integer (a member's CSP
number, a bool as 1 or 0); an ADMX node takes ``<enabled/><data id="…" value="…"/>…`` or
``<disabled/>``: a changed data id is replaced in the payload, a node switched on gets a data
element for every data id the repaired policy gives a value. ``omaSettings`` is a collection,
which a PATCH replaces whole, so the request carries every setting of the profile; an
encrypted one goes without its ``value`` (Graph keeps it by its ``secretReferenceValueId``),
so no secret is ever written.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import quoteattr

from ..importers import parse_admx
from ..importers.omauri import PayloadError
from ..importers.origins import CSP, OriginIndex, normalise_csp
from ..vocabulary import Fact
from .values import admx_data_value, emit_error, raw_value, written

STRING = "#microsoft.graph.omaSettingString"
INTEGER = "#microsoft.graph.omaSettingInteger"
STRING_XML = "#microsoft.graph.omaSettingStringXml"


def expressible(fact: Fact) -> bool:
    """Whether a custom profile has a CSP node for ``fact``."""
    return bool(fact.origins.get("csp")) and fact.policy_controlled


def payload_text(enabled: bool, data: list[tuple[str, str]]) -> str:
    """An ADMX payload: ``<disabled/>``, or ``<enabled/>`` and its data elements, attributes escaped."""
    if not enabled:
        return "<disabled/>"
    return "<enabled/>" + "".join(f"<data id={quoteattr(i)} value={quoteattr(v)}/>" for i, v in data)


def repaired_profile(
    document: Mapping[str, Any],
    changes: Mapping[Fact, Any],
    after: Mapping[str, Any],
    index: OriginIndex,
    file: str = "",
) -> dict[str, Any]:
    """A copy of the profile whose ``omaSettings`` carry each changed fact's value."""
    missing = "the profile has no `omaSettings` list"
    return written(document, "omaSettings", changes, lambda items: _Writer(items, after, index, file), missing, file)


def patch_body(original: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body: ``@odata.type`` and the whole ``omaSettings``, encrypted values left out."""
    settings = [
        {k: v for k, v in s.items() if k != "value"} if isinstance(s, dict) and s.get("isEncrypted") is True else s
        for s in new["omaSettings"]
    ]
    return {
        "@odata.type": original.get("@odata.type", "#microsoft.graph.windows10CustomConfiguration"),
        "omaSettings": settings,
    }


class _Writer:
    """Writes facts into one profile's OMA settings."""

    def __init__(self, settings: list[Any], after: Mapping[str, Any], index: OriginIndex, file: str) -> None:
        self.settings, self.after, self.index, self.file = settings, after, index, file

    def find(self, node: str) -> dict[str, Any] | None:
        return next(
            (
                s
                for s in self.settings
                if isinstance(s, dict) and isinstance(s.get("omaUri"), str) and normalise_csp(s["omaUri"]) == node
            ),
            None,
        )

    def write(self, fact: Fact, value: Any) -> None:
        if not expressible(fact):
            raise emit_error(f"a custom profile has no CSP node for {fact.name} ({fact.label})", file=self.file)
        node = normalise_csp(fact.origins["csp"])
        setting = self.find(node)
        if setting is not None and setting.get("isEncrypted") is True:
            raise emit_error(
                f"the value of {setting.get('omaUri')} is encrypted in this export; it cannot be changed from it",
                file=self.file,
                help="export the profile with its plain values (getOmaSettingPlainTextValue)",
            )
        if setting is None and value is None:
            return
        if setting is None:
            setting = self._new_setting(fact)
        data_id = fact.origins.get("csp_data_id")
        if data_id:
            self._write_data(setting, node, fact, data_id, value)
        elif self.index.csp_admx.get(node):
            self._write_state(setting, node, value is not None and raw_value(self.index, fact, value, CSP) == 1)
        elif value is None:
            self.settings.remove(setting)
        else:
            self._write_plain(setting, raw_value(self.index, fact, value, CSP))

    def _new_setting(self, fact: Fact) -> dict[str, Any]:
        node = normalise_csp(fact.origins["csp"])
        admx = bool(self.index.csp_admx.get(node))
        setting = {
            "@odata.type": STRING if admx else INTEGER,
            "displayName": fact.label,
            "omaUri": fact.origins["csp"],
            "value": "<disabled/>" if admx else 0,
        }
        self.settings.append(setting)
        return setting

    def _write_plain(self, setting: dict[str, Any], raw: Any) -> None:
        kind = str(setting.get("@odata.type", "")).rsplit(".", 1)[-1].lower()
        setting["value"] = bool(raw) if kind == "omasettingboolean" else str(raw) if kind == "omasettingstring" else raw

    def _payload(self, setting: dict[str, Any]) -> tuple[bool, list[tuple[str, str]]]:
        text = setting.get("value")
        if setting.get("@odata.type") == STRING_XML and isinstance(text, str):
            text = base64.b64decode(text).decode("utf-8")
        try:
            payload = parse_admx(text if isinstance(text, str) else "")
        except PayloadError as exc:
            message = f"the ADMX payload of {setting.get('omaUri')} is not readable: {exc}"
            raise emit_error(message, file=self.file) from None
        return payload.enabled, list(payload.data)

    def _store(self, setting: dict[str, Any], enabled: bool, data: list[tuple[str, str]]) -> None:
        text = payload_text(enabled, data)
        if setting.get("@odata.type") == STRING_XML:
            text = base64.b64encode(text.encode("utf-8")).decode("ascii")
        setting["value"] = text

    def _write_state(self, setting: dict[str, Any], node: str, enabled: bool) -> None:
        was, data = self._payload(setting)
        if enabled and not was:
            data = self._every_data(node)
        self._store(setting, enabled, data if enabled else [])

    def _every_data(self, node: str) -> list[tuple[str, str]]:
        """A data element for each data id of ``node`` the repaired policy gives a value."""
        return [
            (b.data_id, admx_data_value(self.index, b.fact, self.after[b.fact.name]))
            for b in self.index.csp_admx.get(node, [])
            if self.after.get(b.fact.name) is not None
        ]

    def _write_data(self, setting: dict[str, Any], node: str, fact: Fact, data_id: str, value: Any) -> None:
        enabled, data = self._payload(setting)
        if not enabled:
            data = self._every_data(node)
        # The data id keeps its place in the payload; a new one goes last; None drops it.
        mine = data_id.lower()
        kept = [(i, v) for i, v in data if i.lower() != mine]
        if value is not None:
            text = admx_data_value(self.index, fact, value)
            places = [n for n, (i, _) in enumerate(data) if i.lower() == mine]
            kept.insert(places[0] if places else len(kept), (data_id, text))
        self._store(setting, True, kept)
