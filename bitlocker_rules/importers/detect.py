"""What kind of input a parsed JSON document is: from ``@odata.type``, else its shape.

Order of evidence: an explicit ``@odata.type``; then ``@odata.context`` (Graph puts the
entity set there, e.g. ``…/configurationPolicies(settings())/$entity``); then the keys the
document carries, OData annotations aside (they are metadata, never a resource's shape). A
Graph page (``{"value": [...]}``), a single object in Graph's response wrapper
(``{"value": {...}}``, as the Graph reference shows GET responses) or a bare JSON array is a
``page`` whose items are detected one by one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from .imported import is_annotation

# Input kinds.
GRAPH_ENDPOINT_PROTECTION = "graph-endpoint-protection"
SETTINGS_CATALOG = "settings-catalog"
CUSTOM_OMA_URI = "custom-oma-uri"
ENDPOINT_SECURITY_INTENT = "endpoint-security-intent"  # the older endpoint-security policies
POLICY_JSON = "policy-json"
OTHER_GRAPH = "other-graph"  # a Graph resource that is not BitLocker-relevant
MANAGED_DEVICE = "managed-device"
ENCRYPTION_STATE = "encryption-state"
RECOVERY_KEY = "recovery-key"
CSP_STATUS = "csp-status"
DEVICE_JSON = "device-json"
PAGE = "page"

POLICY_KINDS = (GRAPH_ENDPOINT_PROTECTION, SETTINGS_CATALOG, CUSTOM_OMA_URI, ENDPOINT_SECURITY_INTENT, POLICY_JSON)
DEVICE_KINDS = (MANAGED_DEVICE, ENCRYPTION_STATE, RECOVERY_KEY, CSP_STATUS, DEVICE_JSON)

# Graph resource (the part of @odata.type after microsoft.graph.) → input kind.
GRAPH_TYPES = {
    "windows10endpointprotectionconfiguration": (GRAPH_ENDPOINT_PROTECTION, "windows10EndpointProtectionConfiguration"),
    "devicemanagementconfigurationpolicy": (SETTINGS_CATALOG, "deviceManagementConfigurationPolicy"),
    "windows10customconfiguration": (CUSTOM_OMA_URI, "windows10CustomConfiguration"),
    "devicemanagementintent": (ENDPOINT_SECURITY_INTENT, "deviceManagementIntent"),
    "manageddevice": (MANAGED_DEVICE, "managedDevice"),
    "windowsmanageddevice": (MANAGED_DEVICE, "managedDevice"),
    "manageddeviceencryptionstate": (ENCRYPTION_STATE, "managedDeviceEncryptionState"),
    "bitlockerrecoverykey": (RECOVERY_KEY, "bitlockerRecoveryKey"),
}
# Entity sets named in @odata.context → the Graph type their entities have.
_CONTEXT_SETS = (
    ("configurationpolicies", "devicemanagementconfigurationpolicy"),
    ("devicemanagement/intents", "devicemanagementintent"),
    ("manageddeviceencryptionstates", "manageddeviceencryptionstate"),
    ("manageddevices", "manageddevice"),
    ("recoverykeys", "bitlockerrecoverykey"),
)
_VERSION = re.compile(r"/(beta|v1\.0)/", re.I)


@frozen
class Detection:
    """The kind of an input, the Graph resource behind it, and why it was recognised."""

    kind: str | None
    graph_type: str = ""
    api_version: str | None = None
    reason: str = ""


def graph_type_name(data: Mapping[str, Any]) -> str:
    """``@odata.type`` without ``#microsoft.graph.``, lower-cased ('' when absent)."""
    raw = data.get("@odata.type")
    if not isinstance(raw, str):
        return ""
    text = raw.lstrip("#")
    return (text.split(".")[-1] if "." in text else text).lower()


def api_version(data: Any) -> str | None:
    """``beta`` or ``v1.0`` when @odata.context (or a nextLink) names the endpoint."""
    if not isinstance(data, Mapping):
        return None
    for key in ("@odata.context", "@odata.nextLink"):
        match = _VERSION.search(str(data.get(key) or ""))
        if match:
            return match.group(1).lower()
    return None


def detect(data: Any) -> Detection:
    """Recognise one parsed JSON document."""
    version = api_version(data)
    if isinstance(data, list):
        return Detection(PAGE, reason="a JSON array")
    if not isinstance(data, Mapping):
        return Detection(None, reason="not a JSON object")
    if isinstance(data.get("value"), list) and not _has_resource_keys(data):
        return Detection(PAGE, api_version=version, reason="a Graph page (`value` list)")
    if is_wrapped_object(data):
        return Detection(PAGE, api_version=version, reason="one object in Graph's `value` wrapper")
    odata = graph_type_name(data)
    if odata:
        if odata in GRAPH_TYPES:
            kind, graph_type = GRAPH_TYPES[odata]
            return Detection(kind, graph_type, version, f"@odata.type {data['@odata.type']}")
        return Detection(OTHER_GRAPH, odata, version, f"@odata.type {data['@odata.type']}")
    context = str(data.get("@odata.context") or "").lower()
    entity = context.split("#", 1)[-1] if "#" in context else ""
    for entity_set, odata in _CONTEXT_SETS:
        if entity_set in entity and entity.endswith("$entity"):
            kind, graph_type = GRAPH_TYPES[odata]
            return Detection(kind, graph_type, version, f"@odata.context {entity_set}")
    return _by_shape(data, version)


def is_wrapped_object(data: Mapping[str, Any]) -> bool:
    """``{"value": {...}}`` with nothing beside ``value`` but annotations: one object."""
    return isinstance(data.get("value"), Mapping) and all(k == "value" or is_annotation(k) for k in data)


def _is_intent_setting(setting: Any) -> bool:
    return isinstance(setting, Mapping) and "definitionId" in setting and "settingInstance" not in setting


def _has_resource_keys(data: Mapping[str, Any]) -> bool:
    return any(k in data for k in ("settings", "omaSettings", "facts", "settingDefinitionId"))


def _by_shape(data: Mapping[str, Any], version: str | None) -> Detection:
    keys = {k for k in data if not is_annotation(k)}
    settings = data.get("settings")
    if "templateId" in keys or (isinstance(settings, list) and settings and all(map(_is_intent_setting, settings))):
        # A deviceManagementIntent (a pull stores it without @odata.type): its template, or
        # settings that are deviceManagementSettingInstances (a catalog's carry settingInstance).
        return Detection(
            ENDPOINT_SECURITY_INTENT,
            "deviceManagementIntent",
            version,
            "endpoint-security intent shape (`templateId` / settings with `definitionId`)",
        )
    if isinstance(settings, list) or "templateReference" in keys or "settingCount" in keys:
        return Detection(
            SETTINGS_CATALOG,
            "deviceManagementConfigurationPolicy",
            version,
            "settings-catalog shape (`settings` list / `templateReference`)",
        )
    if isinstance(settings, dict):
        return Detection(POLICY_JSON, reason="project policy JSON (`settings` object)")
    if isinstance(data.get("facts"), dict):
        return Detection(DEVICE_JSON, reason="project device JSON (`facts` object)")
    if isinstance(data.get("omaSettings"), list):
        return Detection(CUSTOM_OMA_URI, "windows10CustomConfiguration", version, "`omaSettings` list")
    if any(k.lower().startswith("bitlocker") for k in keys):
        return Detection(
            GRAPH_ENDPOINT_PROTECTION, "windows10EndpointProtectionConfiguration", version, "`bitLocker…` properties"
        )
    if keys & {"advancedBitLockerStates", "encryptionReadinessState", "encryptionPolicySettingState"}:
        return Detection(ENCRYPTION_STATE, "managedDeviceEncryptionState", version, "encryption report properties")
    if keys & {
        "deviceEnrollmentType",
        "hardwareInformation",
        "deviceHealthAttestationState",
        "joinType",
        "azureADDeviceId",
        "managedDeviceOwnerType",
    }:
        return Detection(MANAGED_DEVICE, "managedDevice", version, "managedDevice properties")
    if "volumeType" in keys and "deviceId" in keys:
        return Detection(RECOVERY_KEY, "bitlockerRecoveryKey", version, "recovery key properties")
    if keys and all(isinstance(k, str) and k.startswith("./") for k in keys):
        return Detection(CSP_STATUS, reason="CSP URIs as keys")
    return Detection(None, reason="no known shape")
