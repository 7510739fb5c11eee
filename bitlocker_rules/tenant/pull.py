"""A pull: every BitLocker-relevant source of a tenant read from Graph into a snapshot folder.

Units, in order (each depends only on earlier ones, read back from their files, so a resumed
run needs nothing of the stopped one but the folder):

1. ``device_configurations``: Endpoint protection profiles, and custom OMA-URI profiles that
   set a BitLocker CSP node, each with its assignments (``device_configuration_assignments``);
2. ``configuration_policies``: Windows settings-catalog policies with a BitLocker setting and
   endpoint-security disk encryption policies, with their settings and assignments;
3. ``intents``: the older endpoint-security disk encryption intents, with settings and assignments;
4. ``assignment_filters``: every filter an assignment names (its rule recorded);
5. ``groups``: every group an assignment includes or excludes, and their transitive device
   members (``group_members``);
6. ``managed_devices``: every Windows managed device, each read alone so that
   ``hardwareInformation`` and ``deviceHealthAttestationState`` are filled;
7. ``encryption_states``: the encryption report rows;
8. ``recovery_keys``: recovery key metadata (never the key).

An assignment's line carries its policy as the annotation ``@bitlockerRules.policy`` and a
group member's line its group as ``@bitlockerRules.groupId`` (annotations: the importers ignore
them, as they ignore every OData annotation).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, TypeVar

from attrs import frozen

from ..errors import BitLockerRulesError, clip
from ..facts import given_vocabulary
from ..importers.origins import OriginIndex, index_for
from ..resources import installed_version
from ..vocabulary import Vocabulary
from .client import BATCH_SIZE, BadRequest, GraphClient, NotFound
from .clouds import graph_root
from .endpoints import (
    BITLOCKER_CATALOG,
    BITLOCKER_CSP,
    CUSTOM_PROFILE,
    DISK_ENCRYPTION,
    ENDPOINT_PROTECTION,
    RECOVERY_KEY_HEADERS,
    Call,
    Calls,
    calls_for,
)
from .failures import MALFORMED, TenantError, tenant_error
from .pacing import Pacing
from .sent_text import SentAnswer
from .signin import TokenSource, tenant_of
from .snapshot import Snapshot, UnitWriter

POLICY_ANNOTATION = "@bitlockerRules.policy"
GROUP_ANNOTATION = "@bitlockerRules.groupId"
GROUP_TARGETS = ("#microsoft.graph.groupAssignmentTarget", "#microsoft.graph.exclusionGroupAssignmentTarget")
_T = TypeVar("_T")
_R = TypeVar("_R")
RECOVERY_KEYS_PATH = "informationProtection/bitlocker/recoveryKeys"
PROGRESS_INTERVAL = 0.1  # seconds between progress lines: a terminal need not redraw per record
ASSIGNMENT_KINDS = ("device_configuration_assignments", "configuration_policy_assignments", "intent_assignments")


@frozen
class PullResult:
    """What a finished pull wrote: the folder, records per kind, skipped entries, requests sent."""

    folder: Path
    counts: dict[str, int]
    skipped: int
    requests: int


class Puller:
    """One pull into one snapshot: the client, the calls, the progress line."""

    def __init__(
        self,
        client: GraphClient,
        snapshot: Snapshot,
        index: OriginIndex,
        concurrency: int,
        progress: Callable[[str], None] | None,
        interval: float = PROGRESS_INTERVAL,
    ) -> None:
        self.client = client
        self.snapshot = snapshot
        self.calls: Calls = calls_for(index)
        self.concurrency = concurrency
        self.progress = progress
        self.counts: dict[str, int] = {}
        self.interval = interval
        self.shown = -interval
        self.lock = threading.Lock()
        self.notes: list[tuple[str, str]] = []  # (what, why) noted by worker threads, for the unit's manifest entry

    # -- the run ----------------------------------------------------------------------

    def run(self) -> None:
        """Every unit not yet complete, in order."""
        units: tuple[tuple[str, dict[str, str], Callable[[UnitWriter], None]], ...] = (
            (
                "device_configurations",
                {"device_configurations": "beta", ASSIGNMENT_KINDS[0]: "beta"},
                self.configurations,
            ),
            ("configuration_policies", {"configuration_policies": "beta", ASSIGNMENT_KINDS[1]: "beta"}, self.catalog),
            ("intents", {"intents": "beta", ASSIGNMENT_KINDS[2]: "beta"}, self.intents),
            ("assignment_filters", {"assignment_filters": "beta"}, self.filters),
            ("groups", {"groups": "v1.0", "group_members": "v1.0"}, self.groups),
            ("managed_devices", {"managed_devices": "beta"}, self.devices),
            ("encryption_states", {"encryption_states": "beta"}, self.encryption_states),
            ("recovery_keys", {"recovery_keys": "v1.0"}, self.recovery_keys),
        )
        for name, kinds, read in units:
            if self.snapshot.done(name):
                continue
            # counted only to be shown: a call per record saved when nothing is (--quiet)
            with self.snapshot.unit(name, kinds, on_write=self.counted if self.progress else None) as unit:
                read(unit)
                for what, why in self.notes:
                    unit.skip(next(iter(kinds)), what, why)
                self.notes.clear()

    # -- policies ---------------------------------------------------------------------

    def configurations(self, unit: UnitWriter) -> None:
        """Endpoint protection profiles and custom profiles with a BitLocker OMA-URI, with assignments."""
        calls, others = self.calls, 0
        for page in self.pages(calls.device_configurations):
            wanted = [(_id(item), _graph_type(item)) for item in page]
            others += sum(kind not in (ENDPOINT_PROTECTION, CUSTOM_PROFILE) for _, kind in wanted)
            fetch = [
                calls.endpoint_protection.item(i) if kind == ENDPOINT_PROTECTION else calls.custom_profile.item(i)
                for i, kind in wanted
                if kind in (ENDPOINT_PROTECTION, CUSTOM_PROFILE)
            ]
            for record in self.each(fetch):
                if _graph_type(record) == CUSTOM_PROFILE and not _sets_bitlocker_csp(record):
                    others += 1
                    continue
                self.policy(unit, "device_configurations", ASSIGNMENT_KINDS[0], "deviceConfiguration", record)
        if others:
            unit.skip(
                "device_configurations",
                f"{others} device configurations",
                "not Endpoint protection profiles or custom profiles with a BitLocker OMA-URI",
            )

    def catalog(self, unit: UnitWriter) -> None:
        """Windows settings-catalog and disk encryption policies with a BitLocker setting, with assignments."""
        calls, others = self.calls, 0
        for page in self.pages(calls.configuration_policies):
            windows = [_id(item) for item in page if "windows10" in str(item.get("platforms", "")).lower()]
            others += len(page) - len(windows)
            for record in self.each(calls.configuration_policy.item(i) for i in windows):
                if not _is_bitlocker_policy(record):
                    others += 1
                    continue
                self.policy(unit, "configuration_policies", ASSIGNMENT_KINDS[1], "configurationPolicy", record)
        if others:
            unit.skip("configuration_policies", f"{others} configuration policies", "no BitLocker setting")

    def intents(self, unit: UnitWriter) -> None:
        """Endpoint-security intents made from a disk encryption template, with settings and assignments."""
        try:
            templates = {
                _id(t)
                for page in self.pages(self.calls.templates)
                for t in page
                if t.get("templateType") == DISK_ENCRYPTION
            }
            listed = [i for page in self.pages(self.calls.intents) for i in page]
        except NotFound:
            unit.skip("intents", "endpoint-security intents", "this tenant has none (Graph answered 404)")
            return
        found = [_id(i) for i in listed if i.get("templateId") in templates]
        for record in self.each(self.calls.intent.item(i) for i in found):
            self.policy(unit, "intents", ASSIGNMENT_KINDS[2], "intent", record)
        if len(listed) > len(found):
            unit.skip("intents", f"{len(listed) - len(found)} intents", "not made from a disk encryption template")

    def policy(self, unit: UnitWriter, kind: str, assignment_kind: str, resource: str, record: dict) -> None:
        """A policy's line, and a line per assignment (split off its ``$expand``)."""
        assignments = record.pop("assignments", None) or []
        record.pop("assignments@odata.context", None)
        for assignment in assignments:
            unit.write(assignment_kind, {**assignment, POLICY_ANNOTATION: {"kind": resource, "id": _id(record)}})
        unit.write(kind, record)

    # -- what assignments name ----------------------------------------------------------

    def assignments(self) -> Iterator[dict]:
        """Every assignment written by the policy units, read back from their files."""
        for kind in ASSIGNMENT_KINDS:
            yield from self.snapshot.records(kind)

    def filters(self, unit: UnitWriter) -> None:
        """Every assignment filter an assignment names."""
        named = sorted(
            {
                t["deviceAndAppManagementAssignmentFilterId"]
                for t in _targets(self.assignments())
                # Graph's filter ids are strings; another value is not asked for (the check of the
                # snapshot says the filter it names is not held, as for a filter deleted since)
                if isinstance(t.get("deviceAndAppManagementAssignmentFilterId"), str)
                and t["deviceAndAppManagementAssignmentFilterId"]
            }
        )
        for filter_id, record in zip(named, self.each((self.calls.assignment_filter.item(f) for f in named), True)):
            if record is None:
                unit.skip("assignment_filters", filter_id, "named by an assignment but not found (404)")
            else:
                unit.write("assignment_filters", record)

    def groups(self, unit: UnitWriter) -> None:
        """Every group an assignment includes or excludes, and its transitive device members."""
        named = sorted(
            {
                t["groupId"]
                for t in _targets(self.assignments())
                if t.get("@odata.type") in GROUP_TARGETS and isinstance(t.get("groupId"), str)
            }
        )
        present = []
        for group_id, record in zip(named, self.each((self.calls.group.item(g) for g in named), True)):
            if record is None:
                unit.skip("groups", group_id, "named by an assignment but not found (404): deleted?")
            else:
                unit.write("groups", record)
                present.append(group_id)
        for group_id, members in zip(present, self.concurrently(self.device_members, present)):
            for member in members:
                unit.write("group_members", {**member, GROUP_ANNOTATION: group_id})

    def device_members(self, group_id: str) -> list[dict]:
        """A group's transitive device members, every page (none, noted, if the group is gone since)."""
        call = self.calls.group_devices.under(group_id, "transitiveMembers/microsoft.graph.device")
        try:
            return [member for page in self.pages(call) for member in page]
        except NotFound:
            with self.lock:
                self.notes.append((group_id, "its members were not found (404): deleted during the pull?"))
            return []

    # -- devices ----------------------------------------------------------------------

    def devices(self, unit: UnitWriter) -> None:
        """Every Windows managed device, each read alone (for its hardware and health properties)."""
        for page in self.pages(self.calls.managed_devices):
            ids = [_id(item) for item in page]
            read = list(self.batched(self.calls.managed_device, ids))
            for device_id, (record, _, _) in zip(ids, read):
                if record is None:  # removed between the list and the read
                    unit.skip("managed_devices", device_id, "listed, then not found (404): removed meanwhile")
            unit.write_all_sent("managed_devices", [(r, text, clean) for r, text, clean in read if r is not None])

    def encryption_states(self, unit: UnitWriter) -> None:
        """The encryption report, a row per device."""
        for page in self.sent_pages(self.calls.encryption_states):
            unit.write_all_sent("encryption_states", _kept(page))

    def recovery_keys(self, unit: UnitWriter) -> None:
        """Recovery key metadata of the tenant (never a key's value)."""
        for page in self.sent_pages(self.calls.recovery_keys, RECOVERY_KEY_HEADERS):
            unit.write_all_sent("recovery_keys", _kept(page))

    # -- reading ----------------------------------------------------------------------

    def pages(self, call: Call, headers: dict[str, str] | None = None) -> Iterator[list[dict]]:
        """A collection's pages."""
        yield from self.client.pages(self.client.url(call.version, call.path), call.params(), headers)

    def sent_pages(self, call: Call, headers: dict[str, str] | None = None) -> Iterator[SentAnswer]:
        """A collection's pages, with the text Graph wrote for each item where it can be kept."""
        yield from self.client.sent_pages(self.client.url(call.version, call.path), call.params(), headers)

    def each(self, calls: Iterable[Call], missing_ok: bool = False, concurrency: int = 0) -> Iterator[Any]:
        """Each object, read ``concurrency`` at a time, in the order asked (None for a 404 when
        ``missing_ok``); expanded collections are paged to their end."""

        def read(call: Call) -> dict | None:
            try:
                record = self.whole_if_refused(call)
            except NotFound:
                if missing_ok:
                    return None
                raise
            for name in call.expand:
                self.expand_fully(record, name)
            for name in call.relations:
                url = self.client.url(call.version, f"{call.path}/{name}")
                record[name] = [item for page in self.client.pages(url) for item in page]
            return record

        yield from self.concurrently(read, calls, concurrency)

    def batched(self, call: Call, ids: list[str]) -> Iterator[tuple[dict | None, str | None, bool]]:
        """The object of ``call``'s collection with each of ``ids`` (plain reads: no relations, no
        paged expansion), in the order asked, ``BATCH_SIZE`` to a ``$batch`` request and
        ``concurrency`` batches at a time; None for a 404. Each with its text as Graph wrote it
        where that can be kept, and whether its answer showed nothing to scrub
        (``GraphClient.sent_batch``). A batch Graph refuses as asked (400) is read an object at a
        time instead (each then checked as it is written)."""

        def read(chunk: list[str]) -> list[tuple[dict | None, str | None, bool]]:
            try:
                sent = self.client.sent_batch(call.version, [call.item_target(i) for i in chunk])
                # A record with its text is written from the text: its decoded object goes here, in
                # the thread that read it. Held for the page instead, a thousand records outlived
                # the collector's young generation and were traversed again and again.
                return [(_AS_SENT if text is not None else record, text, clean) for record, text, clean in sent]
            except BadRequest:
                each = self.each([call.item(i) for i in chunk], missing_ok=True, concurrency=1)
                return [(record, None, False) for record in each]

        chunks = [ids[i : i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
        for records in self.concurrently(read, chunks):
            yield from records

    def concurrently(self, work: Callable[[_T], _R], items: Iterable[_T], concurrency: int = 0) -> list[_R]:
        """``work`` on each item, ``concurrency`` (default: the pull's) at a time, the results in
        the order of the items once all are in (the first failure raised, what had not started
        cancelled). Waiting for all at once wakes this thread once: waiting for each result in
        turn woke it for every batch (8 % of the samples holding the interpreter lock, py-spy)."""
        executor = ThreadPoolExecutor(max_workers=concurrency or self.concurrency)
        try:
            futures = [executor.submit(work, item) for item in items]
            for waiting in wait(futures, return_when=FIRST_EXCEPTION).not_done:
                waiting.cancel()  # a failure came first; the items before it have all started
            return [future.result() for future in futures]
        finally:
            executor.shutdown(wait=True, cancel_futures=True)

    def whole_if_refused(self, call: Call) -> dict:
        """The object as ``call`` asks; should Graph refuse its ``$select`` (400: a tenant where a
        derived type's properties cannot be selected from the base collection), the whole object,
        noted in the manifest: it holds what was selected, and more."""
        url = self.client.url(call.version, call.path)
        try:
            return self.client.get(url, call.params())
        except BadRequest as exc:
            if not call.select or call.path.startswith(RECOVERY_KEYS_PATH):  # a key is never read whole
                raise
            refused = exc.diagnostics[0].message
        record = self.client.get(url, {k: v for k, v in call.params().items() if k != "$select"})
        with self.lock:
            self.notes.append((_id(record), f"read whole: {refused}"))
        return record

    def expand_fully(self, record: dict, name: str) -> None:
        """Follow ``<name>@odata.nextLink`` of an expanded collection (Graph pages those too)."""
        link = record.pop(f"{name}@odata.nextLink", None)
        if link is None:
            return
        items = list(record.get(name) or [])
        for page in self.client.pages(link):
            items += page
        record[name] = items

    # -- progress ---------------------------------------------------------------------

    def counted(self, kind: str) -> None:
        """One more record of ``kind`` written."""
        with self.lock:  # a worker thread's wait may be drawing the line from these counts
            self.counts[kind] = self.counts.get(kind, 0) + 1
        self.show()

    def waited(self, seconds: float, why: str) -> None:
        """Called by the client (from any thread) before it waits: always shown."""
        self.show(f", waiting {seconds:.0f} s ({why})", force=True)

    def show(self, waiting: str = "", force: bool = False) -> None:
        """The progress line, at most every ``PROGRESS_INTERVAL`` unless ``force``."""
        if self.progress is None:
            return
        with self.lock:
            now = time.monotonic()
            if not force and now - self.shown < self.interval:
                return
            self.shown = now
            traffic = self.client.traffic
            kinds = ", ".join(f"{kind} {n}" for kind, n in self.counts.items())
            throttled = f", throttled {traffic.throttled}×" if traffic.throttled else ""
            self.progress(f"{traffic.requests} requests{throttled}; {kinds}{waiting}")


# Stands for a record written as Graph sent it (from its text): never read.
_AS_SENT: dict = {}


def _kept(page: SentAnswer) -> Iterator[tuple[dict, str | None, bool]]:
    """A page's records, each with the text Graph wrote for it (None where none was kept) and
    whether the page's records were found to hold nothing to scrub."""
    records = page.data["value"]
    texts = page.texts if len(page.texts) == len(records) else itertools.repeat(None)
    return zip(records, texts, itertools.repeat(page.clean))


def _id(item: dict) -> str:
    """A Graph object's id; an object without one is a page that cannot be read."""
    found = item.get("id")
    if not isinstance(found, str) or not found:
        raise tenant_error(MALFORMED, f"Graph sent an object without an id ({clip(str(item), 120)})")
    return found


def _graph_type(item: dict) -> str:
    raw = str(item.get("@odata.type") or "")
    return raw.rsplit(".", 1)[-1]


def _sets_bitlocker_csp(record: dict) -> bool:
    settings = record.get("omaSettings") or []
    return any(
        str(s.get("omaUri", "")).strip().lower().startswith(BITLOCKER_CSP) for s in settings if isinstance(s, dict)
    )


def _is_bitlocker_policy(record: dict) -> bool:
    family = (record.get("templateReference") or {}).get("templateFamily")
    if family == DISK_ENCRYPTION:
        return True
    return any(
        str((s.get("settingInstance") or {}).get("settingDefinitionId", "")).startswith(BITLOCKER_CATALOG)
        for s in record.get("settings") or []
        if isinstance(s, dict)
    )


def _targets(assignments: Iterable[dict]) -> Iterator[dict]:
    for assignment in assignments:
        target = assignment.get("target")
        if isinstance(target, dict):
            yield target


@frozen
class PullOptions:
    """What ``bitlocker-rules pull`` was asked: where to, from which Graph, how hard to push."""

    out: Path
    graph_url: str = "https://graph.microsoft.com"
    concurrency: int = 4
    resume: bool = False
    tenant_id: str | None = None


def pull(
    options: PullOptions,
    tokens: TokenSource,
    *,
    pacing: Pacing | None = None,
    progress: Callable[[str], None] | None = None,
    progress_interval: float = PROGRESS_INTERVAL,
    vocabulary: Vocabulary | None = None,
) -> PullResult:
    """Read the tenant behind ``tokens`` into the snapshot folder ``options.out``.

    A failure (raised as it came) leaves the snapshot marked incomplete, with the reason, for
    ``resume``; the snapshot says complete only when every unit is. ``progress`` hears a status
    line at most every ``progress_interval`` seconds, and before every wait."""
    root = graph_root(options.graph_url)
    index = index_for(given_vocabulary(vocabulary, "pull(vocabulary)"))
    version = installed_version()
    snapshot = _snapshot(options, root, tokens, version)
    client = GraphClient(root, tokens, pacing, user_agent=f"bitlocker-rules/{version}")
    puller = Puller(client, snapshot, index, max(1, options.concurrency), progress, progress_interval)
    client.on_wait = puller.waited
    try:
        puller.run()
    except BaseException as exc:
        with contextlib.suppress(TenantError):  # a manifest that cannot be rewritten still says incomplete
            snapshot.fail(_reason(exc), _traffic(client))
        raise
    snapshot.finish(_traffic(client))
    manifest = snapshot.manifest
    return PullResult(
        options.out,
        {kind: entry["count"] for kind, entry in manifest["kinds"].items()},
        len(manifest["skipped"]),
        client.traffic.requests,
    )


def _snapshot(options: PullOptions, root: str, tokens: TokenSource, version: str) -> Snapshot:
    """The snapshot to write: the one in ``options.out`` to resume, or a new one (signed in
    first, so a sign-in that fails leaves no folder behind)."""
    if options.resume:
        return Snapshot.resume(options.out, root)
    tenant = tenant_of(tokens.token()) or options.tenant_id
    return Snapshot.create(options.out, root, tenant, version)


def _traffic(client: GraphClient) -> dict[str, Any]:
    traffic = client.traffic
    return {
        "sent": traffic.requests,
        "retried": traffic.retries,
        "throttled": traffic.throttled,
        "waited_seconds": round(traffic.waited, 3),
    }


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, BitLockerRulesError):
        return exc.render()
    return f"stopped by an internal error ({type(exc).__name__}: {clip(str(exc), 200)})"
