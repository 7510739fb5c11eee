"""Origins the importers need that ``rulesets/vocabulary.toml`` does not declare (yet).

Everything here is *data in the vocabulary's own shape*, merged under the declarations
at run time and only where the vocabulary is silent: once the TOML declares a key, the
TOML wins and the entry here is dead. Each entry is a proposed TOML change (the lead's
report lists them); nothing here maps a format's settings by hand.

Keys used beyond the TOML header's list:

``also``
    alternate origins of a fact, each ``{graph, graph_type}`` (or ``{csp}``); a value
    from an alternate only fills in when the fact's primary origin gave none. An optional
    ``values`` table maps raw strings to the fact's typed value (for a Graph string that
    feeds a ``bool`` fact, where ``member_values`` cannot be declared).
``graph_numeric``
    on a field origin: Graph serialises this enum as numbers, and they are the members'
    ``csp`` numbers (``bitlockerRecoveryKey.volumeType`` = ``"1"``).
``graph_empty``
    raw Graph values of a flags collection that mean "no records" (``success``).
member ``graph_number``
    the Graph numeric value of a flags-enum member (``advancedBitLockerState``), which
    differs from the CSP bit for the low bits (conflict C1).
member ``graph_type``
    the Graph resource that *is* this kind of policy (``policy.policy_type``).
"""

from __future__ import annotations

# Fact origins, keyed by fact name.
FACT_ORIGINS: dict[str, dict] = {
    # Reference 2.5: hardwareInformation (beta) carries tpmSpecificationVersion and
    # operatingSystemEdition; graph-shapes example "2.0, 0, 1.59".
    "device.tpm_version": {
        "also": ({"graph": "hardwareInformation.tpmSpecificationVersion", "graph_type": "managedDevice"},),
    },
    "device.os_edition": {
        "also": ({"graph": "hardwareInformation.operatingSystemEdition", "graph_type": "managedDevice"},),
    },
    # Reference 2.6: managedDeviceEncryptionState.osVersion / encryptionState.
    "device.os_version": {
        "also": ({"graph": "osVersion", "graph_type": "managedDeviceEncryptionState"},),
    },
    "device.encrypted": {
        "also": (
            {"graph": "encryptionState", "graph_type": "managedDeviceEncryptionState",
             "values": {"encrypted": True, "notEncrypted": False}},
            {"graph": "hardwareInformation.isEncrypted", "graph_type": "managedDevice"},
        ),
    },
    # Reference 2.5: deviceHealthAttestationState.secureBoot is a String whose values are
    # UNCONFIRMED; members below carry the graph-shapes spelling (enabled / disabled).
    "device.secure_boot": {
        "also": ({"graph": "deviceHealthAttestationState.secureBoot", "graph_type": "managedDevice"},),
    },
    "device.azure_ad_device_id": {
        "also": ({"graph": "azureActiveDirectoryDeviceId", "graph_type": "managedDevice"},),
    },
    "device.encryption_status_details": {"graph_empty": ("success",)},
}

# Field origins of collection facts, keyed by (fact name, field name).
FIELD_ORIGINS: dict[tuple[str, str], dict] = {
    ("device.recovery_keys", "volume_type"): {"graph_numeric": "csp"},
}

# Enum member origins, keyed by enum name, then member name.
MEMBER_ORIGINS: dict[str, dict[str, dict]] = {
    "SecureBootState": {
        "On": {"graph": "enabled"},
        "Off": {"graph": "disabled"},
    },
    "PolicyType": {
        "EndpointProtectionTemplate": {"graph_type": "windows10EndpointProtectionConfiguration"},
        "CustomOmaUri": {"graph_type": "windows10CustomConfiguration"},
    },
    # Reference 2.6 (S16): advancedBitLockerState numbers. Graph 2/4/128 are NOT the CSP's
    # 2/4/128 (C1); there is no Graph flag for the CSP's 65536 / 131072.
    "EncryptionStatusDetail": {
        "NoUserConsent": {"graph_number": 1},
        "OsVolumeUnprotected": {"graph_number": 2},
        "OsVolumeTpmRequired": {"graph_number": 4},
        "OsVolumeTpmOnlyRequired": {"graph_number": 8},
        "OsVolumeTpmPinRequired": {"graph_number": 16},
        "OsVolumeTpmStartupKeyRequired": {"graph_number": 32},
        "OsVolumeTpmPinStartupKeyRequired": {"graph_number": 64},
        "OsVolumeEncryptionMethodMismatch": {"graph_number": 128},
        "RecoveryKeyBackupFailed": {"graph_number": 256},
        "FixedDriveNotEncrypted": {"graph_number": 512},
        "FixedDriveEncryptionMethodMismatch": {"graph_number": 1024},
        "LoggedOnUserNonAdmin": {"graph_number": 2048},
        "WindowsRecoveryEnvironmentNotConfigured": {"graph_number": 4096},
        "TpmNotAvailable": {"graph_number": 8192},
        "TpmNotReady": {"graph_number": 16384},
        "NetworkError": {"graph_number": 32768},
    },
}
