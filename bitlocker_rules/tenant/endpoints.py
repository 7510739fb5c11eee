"""What is read from Graph: each call's path, API version, the properties asked for, and the
least-privileged permission it needs.

The properties come from the vocabulary's declared Graph origins (``importers.origins``): a
``$select`` names the top-level properties the importers read and the identity they keep,
nothing else. v1.0 or beta as Microsoft documents each resource: the Intune resources whose
BitLocker properties exist only in beta (Endpoint protection's drive policies, settings
catalog, intents, ``hardwareInformation``, the encryption report) are read from beta; groups
and recovery keys from v1.0.

Permissions are the "least privileged" column of each call's Graph reference page (application
and delegated alike): Intune device configuration and policies
(DeviceManagementConfiguration.Read.All), managed devices
(DeviceManagementManagedDevices.Read.All), group members (GroupMember.Read.All; the members'
device properties also need Device.Read.All), recovery key metadata (BitLockerKey.ReadBasic.All,
which cannot read a key's value).
"""

from __future__ import annotations

import functools
import re
from urllib.parse import quote, urlencode, urlsplit

from attrs import frozen

from ..assignment_filters import DEVICE_FIELDS
from ..importers.imported import is_secret_field
from ..importers.origins import OriginIndex

BETA, V1 = "beta", "v1.0"

CONFIGURATION = "DeviceManagementConfiguration.Read.All"
MANAGED_DEVICES = "DeviceManagementManagedDevices.Read.All"
GROUP_MEMBERS = "GroupMember.Read.All"
DEVICES = "Device.Read.All"
RECOVERY_KEYS = "BitLockerKey.ReadBasic.All"

# Path below the version (regular expression) → the permission a 403 there names.
PERMISSIONS = (
    (
        r"deviceManagement/(deviceConfigurations|configurationPolicies|intents|templates|assignmentFilters)\b",
        CONFIGURATION,
    ),
    (r"deviceManagement/managedDeviceEncryptionStates\b", CONFIGURATION),
    (r"deviceManagement/managedDevices\b", MANAGED_DEVICES),
    (r"groups/[^/]+/transitiveMembers\b", f"{GROUP_MEMBERS} (and {DEVICES} for the members' device properties)"),
    (r"groups\b", GROUP_MEMBERS),
    (r"informationProtection/bitlocker/recoveryKeys\b", RECOVERY_KEYS),
)
EVERY_PERMISSION = (CONFIGURATION, MANAGED_DEVICES, GROUP_MEMBERS, DEVICES, RECOVERY_KEYS)

# Graph resource types.
ENDPOINT_PROTECTION = "windows10EndpointProtectionConfiguration"
CUSTOM_PROFILE = "windows10CustomConfiguration"
MANAGED_DEVICE = "managedDevice"
ENCRYPTION_STATE = "managedDeviceEncryptionState"

# Endpoint-security templates whose policies are BitLocker policies (templateFamily / templateType).
DISK_ENCRYPTION = "endpointSecurityDiskEncryption"
BITLOCKER_CSP = ("./device/vendor/msft/bitlocker/", "./vendor/msft/bitlocker/")
BITLOCKER_CATALOG = "device_vendor_msft_bitlocker_"

# Headers the recovery-key API requires of every caller (Graph reference, Get/List recoveryKeys).
RECOVERY_KEY_HEADERS = {"ocp-client-name": "bitlocker-rules", "ocp-client-version": "1"}


@frozen
class Call:
    """One Graph collection or object: where it is, in which API version, with which query."""

    version: str
    path: str
    select: tuple[str, ...] = ()
    expand: tuple[str, ...] = ()
    filter: str = ""
    top: int = 0  # a page size to ask for, where Graph's default is smaller than its maximum
    # Collections read from their own URL (``…/{id}/settings``) and set on the object under the
    # same name, where Graph documents the list but not the ``$expand``.
    relations: tuple[str, ...] = ()

    def params(self) -> dict[str, str]:
        """The OData query: ``$select``, ``$expand``, ``$filter`` as given."""
        found = {
            "$select": ",".join(self.select),
            "$expand": ",".join(self.expand),
            "$filter": self.filter,
            "$top": str(self.top) if self.top else "",
        }
        return {key: value for key, value in found.items() if value}

    def target(self) -> str:
        """The path and query of this call under its API version, as a ``$batch`` request names it."""
        query = _query_text(self.select, self.expand, self.filter, self.top)
        return self.path + (f"?{query}" if query else "")

    def item_target(self, item_id: str) -> str:
        """``self.item(item_id).target()``, without making the call (a pull asks it per device)."""
        query = _query_text(self.select, self.expand, "", 0)
        return f"{self.path}/{path_segment(item_id)}" + (f"?{query}" if query else "")

    def item(self, item_id: str, **changes: tuple[str, ...]) -> Call:
        """The same call for one object of the collection (its query changed by ``changes``)."""
        fields = {"select": self.select, "expand": self.expand, **changes}
        return Call(
            self.version,
            f"{self.path}/{path_segment(item_id)}",
            fields["select"],
            fields["expand"],
            relations=self.relations,
        )

    def under(self, item_id: str, relation: str) -> Call:
        """The collection ``relation`` of one object (``groups/{id}/transitiveMembers/…``), with this query."""
        return Call(
            self.version,
            f"{self.path}/{path_segment(item_id)}/{relation}",
            self.select,
            self.expand,
            self.filter,
            top=self.top,
        )


def path_segment(item_id: str) -> str:
    """An id read from an answer as one segment of a URL path, percent-encoded: whatever it
    holds (``/``, ``?``, ``#``, ``..``, a character that is not ASCII, half a surrogate pair), the
    request goes to that object, or to none. Graph's ids (GUIDs, ``GUID_suffix``) are left as they are."""
    return quote(str(item_id), safe="", errors="surrogatepass")


@functools.lru_cache(maxsize=64)
def _query_text(select: tuple[str, ...], expand: tuple[str, ...], filter: str, top: int) -> str:
    # Encoded once per query: a pull asks the same $select for each of 100,000 devices, and
    # urlencode quotes it byte by byte (a tenth of the client's CPU before).
    return urlencode(Call("", "", select, expand, filter, top).params())


def permission_for(url: str) -> str | None:
    """The least-privileged permission a call to ``url`` needs (None for an unknown path)."""
    path = urlsplit(url).path
    for pattern, permission in PERMISSIONS:
        if re.search(r"/(beta|v1\.0)/" + pattern, path):
            return permission
    return None


def selected(index: OriginIndex, graph_type: str, identity: tuple[str, ...]) -> tuple[str, ...]:
    """``identity`` and the top-level properties the vocabulary reads from ``graph_type``.

    A property holding a secret (``key``, a recovery password) is never asked for, whatever the
    vocabulary says: the check is here, where the query is made."""
    read = {path.split(".")[0] for path in index.graph.get(graph_type, {})}
    return no_secrets((*identity, *sorted(read - set(identity))))


def no_secrets(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names``, checked to hold no secret property (a recovery ``key``, a password)."""
    secret = [name for name in names if is_secret_field(name)]
    if secret:
        raise ValueError(f"a $select must never name a secret: {secret}")
    return names


@frozen
class Calls:
    """Every call a pull makes, with the properties this vocabulary reads."""

    device_configurations: Call
    endpoint_protection: Call
    custom_profile: Call
    configuration_policies: Call
    configuration_policy: Call
    templates: Call
    intents: Call
    intent: Call
    assignment_filter: Call
    group: Call
    group_devices: Call
    managed_devices: Call
    managed_device: Call
    encryption_states: Call
    recovery_keys: Call


def calls_for(index: OriginIndex) -> Calls:
    """The calls, their ``$select`` made from ``index`` (the vocabulary's Graph origins)."""
    keys = index.vocabulary.facts.get("device.recovery_keys")
    key_fields = tuple(index.field_bindings(keys, "bitlockerRecoveryKey")) if keys is not None else ("id",)
    policy = ("id", "displayName", "description", "lastModifiedDateTime")
    return Calls(
        device_configurations=Call(BETA, "deviceManagement/deviceConfigurations", ("id", "displayName")),
        endpoint_protection=Call(
            BETA,
            "deviceManagement/deviceConfigurations",
            selected(index, ENDPOINT_PROTECTION, policy),
            ("assignments",),
        ),
        custom_profile=Call(BETA, "deviceManagement/deviceConfigurations", (*policy, "omaSettings"), ("assignments",)),
        configuration_policies=Call(
            BETA, "deviceManagement/configurationPolicies", ("id", "name", "platforms", "templateReference")
        ),
        configuration_policy=Call(
            BETA,
            "deviceManagement/configurationPolicies",
            ("id", "name", "description", "platforms", "technologies", "templateReference", "lastModifiedDateTime"),
            ("settings", "assignments"),
        ),
        templates=Call(BETA, "deviceManagement/templates", ("id", "displayName", "templateType")),
        intents=Call(BETA, "deviceManagement/intents", ("id", "displayName", "templateId")),
        intent=Call(
            BETA,
            "deviceManagement/intents",
            ("id", "displayName", "description", "templateId", "lastModifiedDateTime"),
            relations=("settings", "assignments"),
        ),
        assignment_filter=Call(
            BETA,
            "deviceManagement/assignmentFilters",
            ("id", "displayName", "platform", "rule", "assignmentFilterManagementType"),
        ),
        group=Call(V1, "groups", ("id", "displayName", "groupTypes")),
        # Group members come 100 to a page unless asked for more; 999 is the most Graph gives.
        group_devices=Call(V1, "groups", ("id", "deviceId", "displayName"), top=999),
        managed_devices=Call(BETA, "deviceManagement/managedDevices", ("id",), filter="operatingSystem eq 'Windows'"),
        managed_device=Call(
            BETA,
            "deviceManagement/managedDevices",
            # The fields assignment filters read are asked for too: a snapshot decides filters.
            selected(
                index, MANAGED_DEVICE, tuple(dict.fromkeys(("id", "deviceName", "operatingSystem", *DEVICE_FIELDS)))
            ),
        ),
        encryption_states=Call(
            BETA,
            "deviceManagement/managedDeviceEncryptionStates",
            selected(index, ENCRYPTION_STATE, ("id", "deviceName")),
        ),
        recovery_keys=Call(
            V1,
            "informationProtection/bitlocker/recoveryKeys",
            no_secrets(tuple(dict.fromkeys(("id", *key_fields, "deviceId")))),
        ),
    )
