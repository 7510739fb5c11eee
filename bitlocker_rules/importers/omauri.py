"""Custom OMA-URI profiles (``windows10CustomConfiguration``) and CSP read-outs, read
through the vocabulary's ``csp`` / ``csp_data_id`` origins.

``./Device/Vendor/MSFT/BitLocker/<Node>`` with an integer sets the node's fact (matched
against the members' ``csp`` numbers). A string payload ``<enabled/><data id="…"
value="…"/>…`` or ``<disabled/>`` sets the node's own fact (1 = enabled, 0 = disabled, the
vocabulary's convention) and one fact per declared ``csp_data_id``. The payload is read by
a small tokenizer, not an XML library: only ``<enabled/>``, ``<disabled/>``, ``<data …/>``,
a CDATA wrapper, and the five predefined entities plus character references are accepted;
a DTD, any other entity or any other markup is an error, so nothing is ever resolved.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from ..jsonpath import JsonPath
from .detect import graph_type_name
from .imported import ENTITY_KEYS, SKIPPED, UNDECLARED, UNREADABLE, Collector, child_path, is_annotation
from .origins import BITLOCKER_NODE, Binding, normalise_csp

GRAPH_TYPE = "windows10CustomConfiguration"
CONTAINER_KEYS = ENTITY_KEYS | {"omaSettings", "assignments"}
MAX_PAYLOAD = 64 * 1024

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<cdata_open><!\[CDATA\[) |
        (?P<cdata_close>\]\]>) |
        <\s*(?P<state>enabled|disabled)\s*/\s*> |
        <\s*data(?P<attrs>(?:\s+[A-Za-z_][\w.\-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*/\s*>
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_ATTR = re.compile(r"""([A-Za-z_][\w.\-]*)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')""")
_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*);|&")
_PREDEFINED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


class PayloadError(ValueError):
    """An ADMX payload that is not ``<enabled/>`` / ``<disabled/>`` with ``<data/>`` elements."""


@frozen
class AdmxPayload:
    """A parsed ADMX payload: enabled or not, and its data ids with their values in order."""

    enabled: bool
    data: tuple[tuple[str, str], ...]


def parse_admx(text: str) -> AdmxPayload:
    """Parse ``<enabled/><data id="X" value="Y"/>…`` or ``<disabled/>`` without any XML library."""
    if len(text) > MAX_PAYLOAD:
        raise PayloadError(f"longer than {MAX_PAYLOAD} characters")
    position, state, data = 0, None, []
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None:
            rest = text[position:].lstrip()
            what = "a DTD or entity declaration" if rest.startswith("<!") else "unrecognised markup"
            raise PayloadError(f"{what} at character {len(text) - len(rest) + 1}")
        position = match.end()
        if match.group("state"):
            if state is not None:
                raise PayloadError("more than one <enabled/> / <disabled/>")
            state = match.group("state").lower() == "enabled"
        elif match.group("attrs") is not None:
            attrs = {}
            for name, double, single in _ATTR.findall(match.group("attrs")):
                attrs[name.lower()] = _unescape(double if double or not single else single)
            if "id" not in attrs or "value" not in attrs:
                raise PayloadError("a <data/> element needs both `id` and `value`")
            data.append((attrs["id"], attrs["value"]))
    if state is None:
        raise PayloadError("no <enabled/> or <disabled/>")
    return AdmxPayload(state, tuple(data))


def _unescape(text: str) -> str:
    def one(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            raise PayloadError("a bare `&` in an attribute value")
        if name.startswith("#x"):
            return chr(int(name[2:], 16))
        if name.startswith("#"):
            return chr(int(name[1:]))
        if name in _PREDEFINED:
            return _PREDEFINED[name]
        raise PayloadError(f"entity `&{name};` is not allowed (entities are never resolved)")

    try:
        return _ENTITY.sub(one, text)
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError("a character reference out of range") from None


def import_oma_uri(profile: Mapping[str, Any], collector: Collector, path: JsonPath = ()) -> None:
    """Read a custom profile's ``omaSettings``."""
    collector.skip_other_keys(profile, CONTAINER_KEYS, GRAPH_TYPE, path)
    settings = profile.get("omaSettings")
    here = child_path(path, "omaSettings")
    if not isinstance(settings, list):
        collector.error("I403", "`omaSettings` must be a list", here)
        return
    for number, setting in enumerate(settings):
        where = child_path(here, number)
        if not isinstance(setting, Mapping):
            collector.error("I403", "an OMA-URI setting must be a JSON object", where)
            continue
        uri = setting.get("omaUri")
        if not isinstance(uri, str):
            collector.error("I403", "an OMA-URI setting must carry a string `omaUri`", child_path(where, "omaUri"))
            continue
        read_setting(uri, setting, collector, where)


def read_setting(uri: str, setting: Mapping[str, Any], collector: Collector, path: JsonPath) -> None:
    """One ``{omaUri, value}`` of a custom profile."""
    node = normalise_csp(uri)
    uri_path = child_path(path, "omaUri")
    if not node.startswith(BITLOCKER_NODE):
        collector.note(SKIPPED, f"{uri} is not a BitLocker CSP node; skipped", uri_path)
        return
    index = collector.index
    own = index.csp_node.get(node, [])
    admx = index.csp_admx.get(node, [])
    if not own and not admx:
        collector.note(
            UNDECLARED,
            f"{uri} is not a BitLocker setting the vocabulary declares (an Exec command or a Status node?); skipped",
            uri_path,
        )
        return
    if any(not b.fact.policy_controlled for b in own + admx):
        collector.note(SKIPPED, f"{uri} is a read-only status node, not a setting; skipped", uri_path)
        return
    kind = graph_type_name(setting)
    here = child_path(path, "value")
    if setting.get("isEncrypted") is True:
        collector.note(
            UNREADABLE,
            f"the value of {uri} is encrypted in this export (read it with "
            "getOmaSettingPlainTextValue); its settings are not known",
            here,
        )
        return
    raw = setting.get("value")
    if kind == "omasettingstringxml":
        raw = _decode_xml_value(raw, collector, here)
        if raw is None:
            return
    elif kind not in ("", "omasettinginteger", "omasettingstring", "omasettingboolean"):
        collector.note(UNDECLARED, f"OMA-URI value type {setting.get('@odata.type')!r} is not read; skipped", here)
        return
    read_value(node, raw, own, admx, collector, here)


def read_value(
    node: str, raw: Any, own: list[Binding], admx: list[Binding], collector: Collector, path: JsonPath
) -> None:
    """A CSP node's value: an integer or plain string for the node's fact, or an ADMX payload."""
    if isinstance(raw, str) and raw.lstrip().startswith("<"):
        try:
            payload = parse_admx(raw)
        except PayloadError as exc:
            collector.error(
                "I404",
                f"the ADMX payload is not readable: {exc}",
                path,
                help='expected <enabled/><data id="…" value="…"/>… or <disabled/>',
            )
            return
        for binding in own:
            collector.take(binding, 1 if payload.enabled else 0, path)
        if not payload.enabled:
            collector.imply_not_configured(admx, path)
            if payload.data:
                collector.note(SKIPPED, "<data/> elements of a <disabled/> payload have no effect; skipped", path)
            return
        for data_id, value in payload.data:
            data_binding = collector.index.csp_data.get((node, data_id.lower()))
            if data_binding is None:
                collector.note(
                    UNDECLARED, f"data id `{data_id}` of {node} is not declared in the vocabulary; skipped", path
                )
                continue
            collector.take(data_binding, value, path, data_id)
        return
    if admx:
        collector.error(
            "I404",
            "this node takes an ADMX payload",
            path,
            help='expected <enabled/><data id="…" value="…"/>… or <disabled/>',
        )
        return
    if not own:
        return
    if isinstance(raw, bool):
        raw = 1 if raw else 0
    for binding in own:
        collector.take(binding, raw, path)


def _decode_xml_value(raw: Any, collector: Collector, path: JsonPath) -> str | None:
    """``omaSettingStringXml.value`` is Edm.Binary: base64 of the UTF-8 text."""
    if not isinstance(raw, str):
        collector.error("I403", "an omaSettingStringXml value must be a base64 string", path)
        return None
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        collector.error("I403", "an omaSettingStringXml value must be base64 of UTF-8 text", path)
        return None


def import_csp_values(values: Mapping[str, Any], collector: Collector, path: JsonPath = ()) -> None:
    """A device's CSP read-out, ``{"./Device/Vendor/MSFT/BitLocker/Status/…": value, …}``."""
    index = collector.index
    for uri, raw in values.items():
        if is_annotation(uri):
            continue  # metadata a tool wrote beside the read-out (@odata.context), no node
        here = child_path(path, uri)
        node = normalise_csp(uri)
        own = index.csp_node.get(node, [])
        if not own:
            if index.csp_admx.get(node):
                collector.note(SKIPPED, f"{uri} is a policy setting, not a device read-out; skipped", here)
            else:
                collector.note(SKIPPED, f"{uri} is not a CSP node the vocabulary declares; skipped", here)
            continue
        for binding in own:
            collector.take(binding, raw, here)
