"""A local Microsoft Graph for the tenant tests: a real HTTP server on 127.0.0.1
(``pytest-httpserver``) speaking Graph's shapes, over a generated tenant.

It serves the calls ``bitlocker_rules.tenant`` makes as Graph documents them: collections in
pages with ``@odata.nextLink`` (``$skiptoken``), ``$select`` (only the properties named, plus
annotations), ``$expand`` (``settings``, ``assignments``), ``$filter`` on managed devices'
operating system, derived types' ``@odata.type``, the policy updates ``apply`` sends (a section of
its own, below), 401 without a known token, 403 with Graph's
error body when a permission is withheld, 404 for unknown ids. A recovery key's ``key`` is
returned only to ``$select=key``, as Graph does. ``$batch`` (JSON batching, at most 20
requests) answers each request of a batch as it would answer it alone, faults included, with
its status, headers and body. ``faults`` lets a test answer one request its own way (429, 503,
a dropped connection, a page that is not JSON); every request is recorded, each of a batch too.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from werkzeug import Request, Response
from werkzeug.test import EnvironBuilder

BETA = "/beta/"
BATCHED = "graph_fake.batched"  # set in the environ of each request of a batch
V1 = "/v1.0/"

# A recovery password planted in the fake tenant (48 digits, groups multiples of 11 < 720,896).
PLANTED_KEY = "111111-222222-333333-444444-555555-666666-777777-888888"
PLANTED_IN_TEXT = "123453-234564-345675-456786-567897-678908-789019-890120"

EP_TYPE = "#microsoft.graph.windows10EndpointProtectionConfiguration"
CUSTOM_TYPE = "#microsoft.graph.windows10CustomConfiguration"
OTHER_TYPE = "#microsoft.graph.windows10GeneralConfiguration"
DISK_ENCRYPTION_TEMPLATE = "d1174162-1dd2-4976-affc-6667049ab0ae"

WRITE_PERMISSION = "DeviceManagementConfiguration.ReadWrite.All"
PERMISSION_OF = (
    (re.compile(r"/deviceManagement/managedDevices"), "DeviceManagementManagedDevices.Read.All"),
    (re.compile(r"/deviceManagement/"), "DeviceManagementConfiguration.Read.All"),
    (re.compile(r"/groups/"), "GroupMember.Read.All"),
    (re.compile(r"/informationProtection/"), "BitLockerKey.ReadBasic.All"),
)


# The generated filters' rules: three the snapshot evaluates, then one whose operator, one whose
# property it does not evaluate, and one that cannot be parsed. ``FILTER_ORACLE`` in the check
# test evaluates the first three its own way.
FILTER_RULES = (
    '(device.manufacturer -eq "Dell Inc.") and (device.model -startsWith "Latitude")',
    "(device.operatingSystemVersion -ge 10.0.19045)",
    '(device.deviceOwnership -eq "Personal") or (device.enrollmentProfileName -in ["Kiosk", "Lab"])',
    '(device.model -match "^Surface")',
    '(device.cpuArchitecture -eq "arm64")',
    '(device.manufacturer -eq "Dell Inc."',
)
HARDWARE = (
    ("Dell Inc.", ("Latitude 7420", "Latitude 5530", "OptiPlex 7090")),
    ("HP", ("EliteBook 840 G8", "ProBook 450 G9")),
    ("Microsoft Corporation", ("Surface Laptop 5", "Surface Pro 9")),
)


def _guid(rng: random.Random) -> str:
    return "-".join(f"{rng.getrandbits(b):0{b // 4}x}" for b in (32, 16, 16, 16, 48))


class Tenant:
    """A generated tenant: policies of every kind, groups, devices, reports and keys."""

    def __init__(self, seed: int = 13, policies: int = 12, groups: int = 200, devices: int = 2000) -> None:
        rng = random.Random(seed)
        self.rng = rng
        self.device_configurations: list[dict] = []
        self.configuration_policies: list[dict] = []
        self.intents: list[dict] = []
        self.templates = [
            {
                "id": DISK_ENCRYPTION_TEMPLATE,
                "displayName": "BitLocker",
                "templateType": "endpointSecurityDiskEncryption",
            },
            {"id": _guid(rng), "displayName": "Antivirus", "templateType": "endpointSecurityAntivirus"},
        ]
        self.assignments: dict[str, list[dict]] = {}
        # What this generator adds since filters are evaluated comes from a second stream, so the
        # first one (and every tenant the other tests generate) stays as it was.
        self.side = side = random.Random(seed * 7919 + 1)
        self.filters = [
            {
                "id": _guid(rng if n < 3 else side),
                "displayName": f"Filter {n}",
                "platform": "windows10AndLater",
                "rule": rule,
                "assignmentFilterManagementType": "devices",
            }
            for n, rule in enumerate(FILTER_RULES)
        ]
        self.managed_devices = [self._device(rng, n) for n in range(devices)]
        for device in self.managed_devices:
            device.update(self._hardware(side))
        self.entra_devices = [
            {
                "@odata.type": "#microsoft.graph.device",
                "id": _guid(rng),
                "deviceId": d["azureADDeviceId"],
                "displayName": d["deviceName"],
            }
            for d in self.managed_devices
        ]
        self.groups = [{"id": _guid(rng), "displayName": f"Devices {n}", "groupTypes": []} for n in range(groups)]
        self.members = {
            g["id"]: rng.sample(self.entra_devices, k=min(len(self.entra_devices), rng.randint(0, 30)))
            for g in self.groups
        }
        for n in range(policies):
            self.device_configurations.append(self._endpoint_protection(rng, n))
            self.device_configurations.append(self._custom(rng, n, bitlocker=n % 3 != 2))
            self.device_configurations.append(
                {"@odata.type": OTHER_TYPE, "id": _guid(rng), "displayName": f"General {n}", "passwordRequired": True}
            )
            self.configuration_policies.append(self._catalog(rng, n, bitlocker=n % 4 != 3))
            self.intents.append(self._intent(rng, n))
        for policy in self.device_configurations + self.configuration_policies + self.intents:
            self.assignments[policy["id"]] = self._assignments(rng, policy["id"])
        self.encryption_states = [self._encryption_state(rng, d) for d in self.managed_devices]
        self.recovery_keys = [
            {
                "@odata.type": "#microsoft.graph.bitlockerRecoveryKey",
                "id": _guid(rng),
                "deviceId": d["azureADDeviceId"],
                "createdDateTime": "2025-01-02T03:04:05Z",
                "volumeType": rng.choice(["1", "2"]),
                "key": PLANTED_KEY,
            }
            for d in self.managed_devices[: devices // 2]
        ]

    def read_again(self, seed: int) -> None:
        """The same tenant as Graph sends it at another read, nothing meant changed: every list
        in another order, settings' and assignments' instance ids renumbered, each policy's
        ``version`` counter, ``@odata.etag`` and ``lastModifiedDateTime`` moved on (a save
        without a change). A test pulls it again from a server paging otherwise."""
        rng = random.Random(seed)
        stamp = f"2025-{rng.randint(3, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z"
        for items in (
            self.device_configurations,
            self.configuration_policies,
            self.intents,
            self.filters,
            self.groups,
            self.managed_devices,
            self.encryption_states,
            self.recovery_keys,
            *self.members.values(),
        ):
            rng.shuffle(items)
        for policy in self.device_configurations + self.configuration_policies + self.intents:
            policy["lastModifiedDateTime"] = stamp
            policy["version"] = policy.get("version", 1) + rng.randint(1, 3)
            policy["@odata.etag"] = f'W/"{rng.getrandbits(64):016x}"'
            for name in ("settings", "omaSettings"):
                rng.shuffle(policy.get(name, []))
            for number, setting in enumerate(policy.get("settings", [])):
                setting["id"] = f"{rng.randint(0, 99)}-{number}"
            assignments = self.assignments[policy["id"]]
            rng.shuffle(assignments)
            for number, assignment in enumerate(assignments):
                assignment["id"] = f"{policy['id']}_{rng.getrandbits(32):08x}{number}"

    # -- records -----------------------------------------------------------------------

    def _endpoint_protection(self, rng: random.Random, n: int) -> dict:
        usage = ["blocked", "required", "allowed"]
        return {
            "@odata.type": EP_TYPE,
            "id": _guid(rng),
            "displayName": f"EP BitLocker {n}",
            "description": f"planted {PLANTED_IN_TEXT}" if n == 0 else "",
            "lastModifiedDateTime": "2025-02-01T00:00:00Z",
            "firewallBlockStatefulFTP": True,  # not BitLocker: $select must leave it out
            "bitLockerEncryptDevice": rng.random() < 0.8,
            "bitLockerDisableWarningForOtherDiskEncryption": rng.random() < 0.5,
            "bitLockerAllowStandardUserEncryption": rng.random() < 0.5,
            "bitLockerRecoveryPasswordRotation": rng.choice(["notConfigured", "enabledForAzureAd"]),
            "bitLockerSystemDrivePolicy": {
                "encryptionMethod": rng.choice(["xtsAes128", "xtsAes256", None]),
                "startupAuthenticationRequired": rng.random() < 0.5,
                "startupAuthenticationTpmUsage": rng.choice(usage),
                "startupAuthenticationTpmPinUsage": rng.choice(usage),
                "minimumPinLength": rng.choice([None, 6, 8]),
                "recoveryOptions": {"recoveryPasswordUsage": rng.choice(usage), "hideRecoveryOptions": True},
            },
        }

    def _custom(self, rng: random.Random, n: int, bitlocker: bool) -> dict:
        uri = "./Device/Vendor/MSFT/BitLocker/" if bitlocker else "./Device/Vendor/MSFT/Policy/Config/Camera/"
        settings = [
            {
                "@odata.type": "#microsoft.graph.omaSettingInteger",
                "displayName": "Require device encryption",
                "omaUri": uri + ("RequireDeviceEncryption" if bitlocker else "AllowCamera"),
                "isEncrypted": False,
                "value": rng.choice([0, 1]),
            },
        ]
        if n == 0:  # a secret OMA value: reported, never fetched
            settings.append(
                {
                    "@odata.type": "#microsoft.graph.omaSettingString",
                    "displayName": "Secret",
                    "omaUri": uri + "IdentificationField",
                    "isEncrypted": True,
                    "secretReferenceValueId": _guid(rng),
                    "value": f"cipher {PLANTED_IN_TEXT}",
                }
            )
        return {
            "@odata.type": CUSTOM_TYPE,
            "id": _guid(rng),
            "displayName": f"Custom {n}",
            "description": "",
            "lastModifiedDateTime": "2025-02-01T00:00:00Z",
            "omaSettings": settings,
        }

    def _catalog(self, rng: random.Random, n: int, bitlocker: bool) -> dict:
        family = "endpointSecurityDiskEncryption" if n % 2 else "none"
        definition = (
            "device_vendor_msft_bitlocker_requiredeviceencryption"
            if bitlocker
            else "device_vendor_msft_policy_config_camera_allowcamera"
        )
        value = f"{definition}_{rng.choice([0, 1])}"
        return {
            "id": _guid(rng),
            "name": f"Catalog {n}",
            "description": "",
            "platforms": "windows10" if n % 5 != 4 else "macOS",
            "technologies": "mdm",
            "lastModifiedDateTime": "2025-02-01T00:00:00Z",
            "templateReference": {"templateId": "", "templateFamily": family if bitlocker else "none"},
            "settings": [
                {
                    "id": "0",
                    "settingInstance": {
                        "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
                        "settingDefinitionId": definition,
                        "choiceSettingValue": {"value": value, "children": []},
                    },
                }
            ],
        }

    def _intent(self, rng: random.Random, n: int) -> dict:
        template = DISK_ENCRYPTION_TEMPLATE if n % 2 == 0 else self.templates[1]["id"]
        return {
            "id": _guid(rng),
            "displayName": f"Intent {n}",
            "description": "",
            "templateId": template,
            "lastModifiedDateTime": "2025-02-01T00:00:00Z",
            "settings": [
                {
                    "@odata.type": "#microsoft.graph.deviceManagementBooleanSettingInstance",
                    "id": "s0",
                    "definitionId": "deviceConfiguration--windows10EndpointProtectionConfiguration_bitLockerEncryptDevice",
                    "valueJson": "true",
                }
            ],
        }

    def _assignments(self, rng: random.Random, policy_id: str) -> list[dict]:
        found = []
        if rng.random() < 0.2:
            found.append({"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"})
        for _ in range(rng.randint(0, 3)):
            target: dict[str, Any] = {
                "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                "groupId": rng.choice(self.groups)["id"],
            }
            if rng.random() < 0.3:
                first = rng.choice(self.filters[:3])
                chosen = first if self.side.random() < 0.3 else self.side.choice(self.filters)
                target["deviceAndAppManagementAssignmentFilterId"] = chosen["id"]
                target["deviceAndAppManagementAssignmentFilterType"] = self.side.choice(["include", "exclude"])
            found.append(target)
        if found and self.side.random() < 0.15:  # all devices, filtered
            found.append(
                {
                    "@odata.type": "#microsoft.graph.allDevicesAssignmentTarget",
                    "deviceAndAppManagementAssignmentFilterId": self.side.choice(self.filters)["id"],
                    "deviceAndAppManagementAssignmentFilterType": self.side.choice(["include", "exclude"]),
                }
            )
        if rng.random() < 0.3:
            found.append(
                {
                    "@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget",
                    "groupId": rng.choice(self.groups)["id"],
                }
            )
        return [{"id": f"{policy_id}_{n}", "target": t} for n, t in enumerate(found)]

    def _device(self, rng: random.Random, n: int) -> dict:
        return {
            "@odata.type": "#microsoft.graph.managedDevice",
            "id": _guid(rng),
            "deviceName": f"CONTOSO-{n:05d}",
            "operatingSystem": "Windows",
            "osVersion": rng.choice(["10.0.17134.1", "10.0.19045.3803", "10.0.22631.3593"]),
            "azureADDeviceId": _guid(rng),
            "joinType": rng.choice(["azureADJoined", "hybridAzureADJoined"]),
            "skuFamily": rng.choice(["Enterprise", "Pro"]),
            "isEncrypted": rng.random() < 0.5,
            "notes": f"helpdesk wrote {PLANTED_IN_TEXT}" if n == 0 else "",
            "hardwareInformation": {
                "tpmSpecificationVersion": rng.choice(["2.0", "1.2"]),
                "isEncrypted": True,
                "operatingSystemEdition": "Enterprise",
            },
            "deviceHealthAttestationState": {"secureBoot": rng.choice(["enabled", "disabled"])},
        }

    @staticmethod
    def _hardware(side: random.Random) -> dict:
        """The managedDevice properties assignment filters read (manufacturer, model, ownership …)."""
        manufacturer, models = side.choice(HARDWARE)
        return {
            "manufacturer": manufacturer,
            "model": side.choice(models),
            "managedDeviceOwnerType": side.choice(["company", "company", "personal"]),
            "enrollmentProfileName": side.choice([None, "Autopilot Prod", "Kiosk", "Lab"]),
            "skuNumber": side.choice([4, 48, 121]),
        }

    def _encryption_state(self, rng: random.Random, device: dict) -> dict:
        return {
            "@odata.type": "#microsoft.graph.managedDeviceEncryptionState",
            "id": device["id"],
            "deviceName": device["deviceName"],
            "osVersion": device["osVersion"],
            "tpmSpecificationVersion": "2.0",
            "encryptionReadinessState": rng.choice(["ready", "notReady"]),
            "encryptionState": rng.choice(["encrypted", "notEncrypted"]),
            "advancedBitLockerStates": "success",
        } | self._agreeing(device)

    def _agreeing(self, device: dict) -> dict:
        """The report row's copies of what the managed device says, as a tenant's mostly agree; one
        row in fifty disagrees, so the join's conflicts are exercised too."""
        if self.side.random() < 0.02:
            return {}
        return {
            "tpmSpecificationVersion": device["hardwareInformation"]["tpmSpecificationVersion"],
            "encryptionState": "encrypted" if device["isEncrypted"] else "notEncrypted",
        }


class FakeGraph:
    """The HTTP handler: routes Graph paths over a ``Tenant``, with paging, auth and faults."""

    def __init__(self, tenant: Tenant, base_url: str, page_size: int = 100) -> None:
        self.tenant = tenant
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.expand_page_size = 1000
        self.tokens = {"good-token"}
        self.denied: set[str] = set()
        self.faults: list[Callable[[Request], Response | None]] = []
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.lock = threading.Lock()
        self.indexes: dict[str, dict[str, dict]] = {}
        self.writes: list[tuple[str, str, dict]] = []  # (method, path, body) of each write Graph took
        # Graph writes its JSON without spaces (curl's output of a real call shows it); None spaces
        # it as Python does, for a test of a client that must read any spacing.
        self.separators: tuple[str, str] | None = (",", ":")

    # -- dispatch ----------------------------------------------------------------------

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.requests.append((request.path, dict(request.args), dict(request.headers)))
            faults = list(self.faults)
        for fault in faults:
            answer = fault(request)
            if answer is not None:
                return answer
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return _error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
        for pattern, permission in PERMISSION_OF if request.method in ("GET", "POST") else ():
            if pattern.search(request.path):
                if permission in self.denied:
                    return _error(403, "Forbidden", "Application is not authorized to perform this operation.")
                break
        if request.method == "POST" and re.fullmatch(r"/(beta|v1\.0)/\$batch", request.path):
            return self.batch(request)
        if request.method in ("PATCH", "PUT", "POST", "DELETE"):
            return self.write(request)
        found = self.route(request)
        if found is None:
            return _error(404, "ResourceNotFound", "Resource not found.")
        return Response(json.dumps(found, separators=self.separators), status=200, content_type="application/json")

    def batch(self, request: Request) -> Response:
        """A JSON batch: each request answered as it would be alone, in one answer."""
        asked = (request.get_json(silent=True) or {}).get("requests")
        if not isinstance(asked, list) or not 0 < len(asked) <= 20:
            return _error(400, "BadRequest", "A batch holds from 1 to 20 requests.")
        version = request.path.split("/")[1]
        answers = []
        for one in asked:
            path, _, query = str(one.get("url", "")).partition("?")
            environ = EnvironBuilder(
                path=f"/{version}{path}",
                query_string=query,
                headers={"Authorization": request.headers.get("Authorization", "")},
            ).get_environ()
            environ[BATCHED] = True  # for a fault that means the HTTP request, not each request of a batch
            try:
                answer = self(Request(environ))
                body = answer.get_data()
            except ConnectionAbortedError:  # a fault dropped this request: the whole batch is dropped
                return dropped(request)
            answers.append(
                {
                    "id": one.get("id"),
                    "status": answer.status_code,
                    "headers": {k: v for k, v in answer.headers.items() if k in ("Retry-After", "Content-Type")},
                    "body": json.loads(body) if body.strip().startswith(b"{") else body.decode(),
                }
            )
        random.Random(len(self.requests)).shuffle(answers)  # Graph answers a batch in any order
        return Response(
            json.dumps({"responses": answers}, separators=self.separators), status=200, content_type="application/json"
        )

    def route(self, request: Request) -> dict | None:
        path, args, t = request.path, request.args, self.tenant
        collections: dict[str, Callable[[], list[dict]]] = {
            BETA + "deviceManagement/deviceConfigurations": lambda: t.device_configurations,
            BETA + "deviceManagement/configurationPolicies": lambda: t.configuration_policies,
            BETA + "deviceManagement/intents": lambda: t.intents,
            BETA + "deviceManagement/templates": lambda: t.templates,
            BETA + "deviceManagement/assignmentFilters": lambda: t.filters,
            BETA + "deviceManagement/managedDevices": lambda: t.managed_devices,
            BETA + "deviceManagement/managedDeviceEncryptionStates": lambda: t.encryption_states,
            V1 + "groups": lambda: t.groups,
            V1 + "informationProtection/bitlocker/recoveryKeys": lambda: t.recovery_keys,
        }
        if path in collections:
            items = collections[path]()
            if args.get("$filter") == "operatingSystem eq 'Windows'":
                items = [i for i in items if i.get("operatingSystem") == "Windows"]
            return self.page(path, items, args)
        expanded = re.fullmatch(r"(/beta/deviceManagement/\w+)/([^/]+)/(assignments|settings)", path)
        if expanded:
            owner = self.by_id(BETA + "deviceManagement/intents", lambda: t.intents).get(expanded.group(2), {})
            if expanded.group(3) == "settings":
                return self.page(path, owner.get("settings", []), args)
            return self.page(path, t.assignments.get(expanded.group(2), []), args)
        members = re.fullmatch(V1 + r"groups/([^/]+)/transitiveMembers/microsoft\.graph\.device", path)
        if members:
            if members.group(1) not in t.members:
                return None
            return self.page(path, t.members[members.group(1)], args)
        for prefix, items in collections.items():
            match = re.fullmatch(re.escape(prefix) + r"/([^/]+)", path)
            if match:
                found = self.by_id(prefix, items).get(match.group(1))
                if found is None:
                    return None
                record = self.one(prefix, found, args)
                assignments = record.get("assignments", [])
                if len(assignments) > self.expand_page_size:  # Graph pages an expanded collection too
                    record["assignments"] = assignments[: self.expand_page_size]
                    query = urlencode({"$skiptoken": str(self.expand_page_size)})
                    record["assignments@odata.nextLink"] = f"{self.base_url}{path}/assignments?{query}"
                return record
        return None

    # -- writes (for apply) --------------------------------------------------------------
    # Graph's updates of the policies apply writes to: a PATCH of a deviceConfiguration (its
    # @odata.type named, as Graph needs for a derived type; each property given replaced whole;
    # omaSettings replaced whole, an encrypted setting sent without its value keeping the one
    # Graph holds by its secretReferenceValueId), a PUT of a configurationPolicy (its writable
    # properties and settings replaced; a PATCH there does not take settings) and a POST of an
    # intent's updateSettings action ({"settings": [deviceManagementSettingInstance…]}: each
    # setting replaced by its definitionId, or added). The write permission is
    # DeviceManagementConfiguration.ReadWrite.All.

    def write(self, request: Request) -> Response:
        """One write, answered 204 No Content as Graph answers these updates."""
        if WRITE_PERMISSION in self.denied:
            return _error(403, "Forbidden", "Application is not authorized to perform this operation.")
        action = re.fullmatch(r"/beta/deviceManagement/intents/([^/]+)/updateSettings", request.path)
        if action is not None:
            return self.update_settings(request, action.group(1))
        found = re.fullmatch(
            r"/beta/deviceManagement/(deviceConfigurations|configurationPolicies)/([^/]+)", request.path
        )
        if found is None:
            return _error(405, "MethodNotAllowed", "No OData route exists that match template.")
        kind, item_id = found.groups()
        method = "PATCH" if kind == "deviceConfigurations" else "PUT"
        body = request.get_json(silent=True)
        if request.method != method or not isinstance(body, dict):
            return _error(400, "BadRequest", f"Expected a {method} with a JSON object.")
        items = (
            self.tenant.device_configurations if kind == "deviceConfigurations" else self.tenant.configuration_policies
        )
        item = self.by_id(BETA + "deviceManagement/" + kind, lambda: items).get(item_id)
        if item is None:
            return _error(404, "ResourceNotFound", "Resource not found.")
        if kind == "deviceConfigurations" and body.get("@odata.type") != item.get("@odata.type"):
            return _error(400, "BadRequest", "The @odata.type of the request must be the entity's own type.")
        with self.lock:
            if "omaSettings" in body:
                body = {**body, "omaSettings": _kept_secrets(item.get("omaSettings", []), body["omaSettings"])}
            item.update({k: v for k, v in body.items() if k != "@odata.type"})
            self.writes.append((request.method, request.path, body))
        return Response(status=204)

    def update_settings(self, request: Request, intent_id: str) -> Response:
        """An intent's updateSettings: each setting sent replaces the intent's setting of its
        definitionId (a new definitionId is added); 204 No Content."""
        body = request.get_json(silent=True)
        sent = body.get("settings") if isinstance(body, dict) else None
        if request.method != "POST" or not isinstance(sent, list) or not all(isinstance(s, dict) for s in sent):
            return _error(400, "BadRequest", 'Expected a POST of {"settings": [...]}.')
        intent = self.by_id(BETA + "deviceManagement/intents", lambda: self.tenant.intents).get(intent_id)
        if intent is None:
            return _error(404, "ResourceNotFound", "Resource not found.")
        with self.lock:
            settings = intent.setdefault("settings", [])
            where = {s.get("definitionId"): n for n, s in enumerate(settings)}
            for setting in sent:
                if setting.get("definitionId") in where:
                    settings[where[setting["definitionId"]]] = setting
                else:
                    where[setting.get("definitionId")] = len(settings)
                    settings.append(setting)
            self.writes.append((request.method, request.path, body))
        return Response(status=204)

    def by_id(self, collection: str, items: Callable[[], list[dict]]) -> dict[str, dict]:
        """A collection's items by id (made once: the tenant does not change during a test)."""
        with self.lock:
            if collection not in self.indexes:
                self.indexes[collection] = {i["id"]: i for i in items()}
            return self.indexes[collection]

    # -- shapes ------------------------------------------------------------------------

    def page(self, path: str, items: list[dict], args: Any) -> dict:
        start = int(args.get("$skiptoken", "0"))
        size = self.expand_page_size if path.endswith("/assignments") else self.page_size
        if "$top" in args:  # Graph gives the smaller of what was asked and its own maximum
            size = min(int(args["$top"]), self.page_size)
        chunk = [self.shaped(i, args) for i in items[start : start + size]]
        version = path.split("/")[1]
        page: dict[str, Any] = {"@odata.context": f"{self.base_url}/{version}/$metadata#collection", "value": chunk}
        if start + size < len(items):
            query = {k: v for k, v in args.items() if k != "$skiptoken"}
            query["$skiptoken"] = str(start + size)
            page["@odata.nextLink"] = f"{self.base_url}{path}?{urlencode(query)}"
        return page

    def one(self, collection: str, item: dict, args: Any) -> dict:
        record = self.shaped(item, args)
        version, _, entity_set = collection.strip("/").partition("/")
        record = {"@odata.context": f"{self.base_url}/{version}/$metadata#{entity_set}/$entity", **record}
        return record

    def shaped(self, item: dict, args: Any) -> dict:
        """``$select`` and ``$expand`` applied; ``key`` only when selected, as Graph does."""
        select = [s for s in args.get("$select", "").split(",") if s]
        expand = [s for s in args.get("$expand", "").split(",") if s]
        expandable = {"settings", "assignments"}
        record = {k: v for k, v in item.items() if k not in expandable and (k != "key" or "key" in select)}
        if select:
            record = {k: v for k, v in record.items() if k in select or k.startswith("@odata.")}
        if "assignments" in expand:
            record["assignments"] = self.tenant.assignments.get(item["id"], [])
        if "settings" in expand:
            record["settings"] = item.get("settings", [])
        return json.loads(json.dumps(record))


def _kept_secrets(held: list[dict], sent: list[dict]) -> list[dict]:
    """``sent``, each encrypted setting without a value given the value held for its reference."""
    values = {s.get("secretReferenceValueId"): s.get("value") for s in held if s.get("isEncrypted")}
    return [
        {**s, "value": values.get(s.get("secretReferenceValueId"))} if s.get("isEncrypted") and "value" not in s else s
        for s in sent
    ]


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "innerError": {"request-id": "00000000"}}}
    return Response(json.dumps(body), status=status, content_type="application/json", headers=headers)


def throttled(status: int, retry_after: str) -> Response:
    """A 429 or 503 with ``Retry-After``, as Graph throttles."""
    return _error(
        status, "TooManyRequests" if status == 429 else "ServiceUnavailable", "Slow down.", {"Retry-After": retry_after}
    )


def once(
    match: Callable[[Request], bool], answer: Callable[[Request], Response], times: int = 1
) -> Callable[[Request], Response | None]:
    """A fault that answers the first ``times`` requests ``match`` accepts with ``answer``."""
    left = [times]
    lock = threading.Lock()

    def fault(request: Request) -> Response | None:
        with lock:
            if left[0] <= 0 or not match(request):
                return None
            left[0] -= 1
        return answer(request)

    return fault


def dropped(request: Request) -> Response:
    """Half a page, then the connection closes: the declared length is never reached."""
    body = b'{"value": [{"id": "cut'

    def cut():
        yield body
        raise ConnectionAbortedError("dropped mid-page")

    return Response(cut(), status=200, headers={"Content-Length": "4096", "Content-Type": "application/json"})


def not_json(request: Request) -> Response:
    """A page that is not JSON (a proxy's HTML error page)."""
    return Response("<html>502 Bad Gateway</html>", status=200, content_type="text/html")


class LocalGraph:
    """A started server with its fake Graph: ``url`` is the Graph root to pull from."""

    def __init__(self, tenant: Tenant, page_size: int = 100) -> None:
        from pytest_httpserver import HTTPServer

        # werkzeug logs every request; a test reads the command's own standard error
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = HTTPServer(host="127.0.0.1", threaded=True)
        self.server.start()
        self.url = self.server.url_for("/").rstrip("/")
        self.fake = FakeGraph(tenant, self.url, page_size)
        self.server.expect_request(re.compile(".*")).respond_with_handler(self.fake)

    def stop(self) -> None:
        self.server.clear()
        self.server.stop()
