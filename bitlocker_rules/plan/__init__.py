"""``plan``: the effect of a proposed policy change on every device of the fleet, and on every
possible device, before it is made.

The stages, one module each: ``patches`` (a Graph PATCH body applied over an exported policy),
``proposal`` (today's state and the proposal's, as the fleet takes policies), ``memberships``
(every distinct pair of policy sets a device in any groups, matching any filters, could get), ``possible``
(the exact analysis: can a device that satisfies a ruleset today fail it after the change),
``devices`` (the fleet's rows, each evaluated under both states in one pass), ``records``
(what a plan finds) and ``run`` (a whole plan). The renderers are in ``report/``.
"""

from .memberships import Membership, MembershipPair, MembershipSearch, possible_memberships
from .patches import Patch, patched, read_patch
from .possible import PossibleRegression, WitnessFact, possible_regressions
from .proposal import PlanStates, Proposal, plan_states
from .records import ConflictMove, DevicePlan, FleetPlan, Plan, ProposalSummary, SettingDelta, SettingMove
from .run import device_json, make_plan

__all__ = [
    "ConflictMove",
    "DevicePlan",
    "FleetPlan",
    "Membership",
    "MembershipPair",
    "MembershipSearch",
    "Patch",
    "Plan",
    "PlanStates",
    "PossibleRegression",
    "Proposal",
    "ProposalSummary",
    "SettingDelta",
    "SettingMove",
    "WitnessFact",
    "device_json",
    "make_plan",
    "patched",
    "plan_states",
    "possible_memberships",
    "possible_regressions",
    "read_patch",
]
