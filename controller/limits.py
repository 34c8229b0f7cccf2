"""The program's sizes that bound what the controller may configure, read from the
P4Info (never from a copy: p4src/common/sizes.p4 can be shrunk with -D at compile time).

* service ids: the per-service event counter holds ``service_ids`` blocks of
  ``events_per_service`` counters (``service_events`` / ``global_events``), so a
  service id is 1 .. service_ids - 1 (0 is "no service");
* session slots: the session registers have ``session_slots`` cells (slot 0 is unused);
* D15: whether the program has the protocol policies and the overload key
  (`OVERLOAD_TABLES`, with the meters); the TNA program has not yet;
* IPv6 (D13): whether the program has the IPv6 tables (`IPV6_TABLES`). Its IPv6
  digests (`IPV6_DIGESTS`) are not required: a program that proxies no IPv6 yet
  sends none, and the controller takes them where the P4Info has them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .p4info import P4InfoIndex

#: What a program needs for IPv6 entries (D13): the tables' IPv6 twins.
IPV6_TABLES = ("services_v6", "sessions_v6", "nd_replies", "ipv6_routes", "martian_sources_v6",
               "nat_buckets_v6", "nat_reverse_v6")
IPV6_DIGESTS = ("cookie_ack_digest_v6_t", "session_event_digest_v6_t")
#: What a program needs for D15's entries and rates (with its meters).
OVERLOAD_TABLES = ("vip_protocols", "overload_config")


@dataclass(frozen=True)
class ProgramLimits:
    service_ids: int = 256
    events_per_service: int = 64
    session_slots: int = 65536
    ipv6: bool = True
    overload: bool = True  # D15: the program has `OVERLOAD_TABLES`

    @property
    def max_services(self) -> int:
        return self.service_ids - 1

    @property
    def max_sessions(self) -> int:
        return self.session_slots - 1

    @classmethod
    def from_p4info(cls, p4: P4InfoIndex) -> ProgramLimits:
        """Raises P4InfoError (a KeyError) when the program lacks one of the objects, and
        ValueError when its sizes make no sense."""
        per_service = p4.get("counters", "global_events").size
        service_events = p4.get("counters", "service_events").size
        slots = p4.get("registers", "session_state").size
        if per_service <= 0 or service_events < per_service or slots < 2:
            raise ValueError(
                f"implausible sizes: global_events {per_service}, service_events "
                f"{service_events}, session_state {slots}"
            )
        return cls(service_events // per_service, per_service, slots, has_ipv6_tables(p4),
                   has_overload_tables(p4))


def has_ipv6_tables(p4: P4InfoIndex) -> bool:
    """Whether the program has every table of `IPV6_TABLES`."""
    names = {t.preamble.name.rsplit(".", 1)[-1] for t in p4.info.tables}
    return set(IPV6_TABLES) <= names


def has_overload_tables(p4: P4InfoIndex) -> bool:
    """Whether the program has every table of `OVERLOAD_TABLES` (D15's switch side)."""
    names = {t.preamble.name.rsplit(".", 1)[-1] for t in p4.info.tables}
    return set(OVERLOAD_TABLES) <= names
