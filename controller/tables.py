"""synproxyctl's tables (in the spirit of `ipvsadm -L -n --stats`): the controller's
`status` and `counters` answers as aligned columns, services by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .config import hostport

# The columns of `counters`: the handshake path, then every drop summed.
COUNTER_COLUMNS = ("syn_in", "synack_sent", "ack_valid", "ack_invalid",
                   "session_established", "translated_c2s", "translated_s2c")


def grid(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in header]] + [[_cell(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in cells)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


def status(st: dict[str, Any]) -> str:
    role = "primary" if st.get("primary") else "backup"
    head = [f"controller: {role}, {'synced' if st.get('synced') else 'not synced'}; "
            f"switch {st.get('address')} (election id {st.get('election_id')}); "
            f"cookie key epoch {st.get('epoch')}; register reads "
            f"{_cell(st.get('register_reads'))}",
            f"sessions: {st.get('sessions')} (free slots {st.get('free_slots')})"
            + "".join(f", {k} {v}" for k, v in sorted((st.get("by_state") or {}).items()))]
    rows: list[list[Any]] = []
    for name, s in sorted((st.get("services") or {}).items()):
        mode = s["mode"] + (" fullnat" if s.get("forwarding") == "fullnat" else "")  # D7
        first = [name, hostport(s["vip"], s["port"]), mode, s.get("defense_active")]
        buckets = s.get("nat_buckets")
        servers = s.get("real_servers") or [None]
        for i, r in enumerate(servers):
            lead = first if i == 0 else ["", "", "", ""]
            if r is None:
                rows.append([*lead, "(none: transparent)", None, None, None])
                continue
            key = hostport(r["address"], r["port"])
            rows.append([*lead, key, r["weight"], r.get("sessions"),
                         None if buckets is None else buckets.get(key, 0)])
    table = grid(["SERVICE", "VIP:PORT", "MODE", "DEFENDED", "REAL SERVER", "WEIGHT",
                  "SESSIONS", "BUCKETS"], rows)
    stats = st.get("stats") or {}
    nonzero = ", ".join(f"{k} {v}" for k, v in sorted(stats.items()) if v)
    return "\n".join([*head, "", table, "", f"stats: {nonzero or 'all 0'}"])


def counters(c: dict[str, Any], rate: bool = False) -> str:
    """The per-service counts (or, with `rate`, per second since the previous read)."""
    if rate:
        rates = c.get("rates")
        if rates is None:
            return "no rates yet: this was the first counters read (read again, or use " \
                   "--interval S)"
        per: dict[str, dict[str, float]] = rates.get("services") or {}
        glob: dict[str, float] = rates.get("global") or {}
    else:
        per = c.get("services_by_name") or {}
        glob = c.get("by_name") or {}
    names = sorted(set(per) | set(c.get("services_by_name") or {}))
    per = {n: per.get(n, {}) for n in names}
    rows = [[n, *(_num(per[n].get(k, 0), rate) for k in COUNTER_COLUMNS),
             _num(_drops(per[n]), rate)] for n in names]
    rows.append(["(switch)", *(_num(glob.get(k, 0), rate) for k in COUNTER_COLUMNS),
                 _num(_drops(glob), rate)])
    head = [k.upper() for k in ("service", *COUNTER_COLUMNS, "drops")]
    out = [grid(head, rows)]
    reasons = sorted({k for d in (glob, *per.values()) for k, v in d.items()
                      if k.startswith("drop_") and v})
    if reasons:
        out += ["", grid(["DROP REASON", *names, "(switch)"],
                         [[r[5:], *(_num(per[n].get(r, 0), rate) for n in names),
                           _num(glob.get(r, 0), rate)] for r in reasons])]
    others = sorted({k for d in (glob, *per.values()) for k, v in d.items()
                     if v and k not in COUNTER_COLUMNS and not k.startswith("drop_")})
    if others:
        out += ["", grid(["OTHER EVENT", *names, "(switch)"],
                         [[e, *(_num(per[n].get(e, 0), rate) for n in names),
                           _num(glob.get(e, 0), rate)] for e in others])]
    unit = "per second" if rate else "packets"
    since = c.get("elapsed") if rate else c.get("zeroed_seconds_ago")
    note = (f"{unit} over the last {since:.1f} s" if rate and since
            else f"{unit} since zeroed {since:.0f} s ago" if since is not None
            else f"{unit} since the pipeline was loaded")
    return "\n".join([*out, "", f"({note}; (switch): every service and packets of none)"])


def _drops(d: dict[str, Any]) -> float:
    return sum(v for k, v in d.items() if k.startswith("drop_"))


def _num(v: float, rate: bool) -> str:
    return f"{v:.1f}" if rate else str(int(v))
