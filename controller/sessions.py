"""The controller's session table: slots, flows, per-session timers and held data.

Pure bookkeeping, no I/O: the caller passes the time in (`now`, seconds on any
monotonic clock), so retransmission schedules and expiry are tested without sleeping.
The app turns what this module decides into P4Runtime writes and PacketOuts.

Slots index the switch's session registers; every install or restart of a slot gets
a new gen (its entries carry it, the data plane starts a slot of a new gen afresh).
Slot 0 is never used: the data plane's
digests say "no old session" with old_slot = 0. A freed slot is not reusable until
the caller confirms that the switch forgot it (`recycle`), so a later install in
the same slot can never be overtaken by the delete of the previous one.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum

from . import p4consts
from .config import Reuse, Sessions
from .fullnat import LocalPair, LocalPorts
from .synpkt import Handshake

FlowKey = tuple[int, int, int, int]  # client address, VIP address, client port, VIP port
SLOT_LIMIT = p4consts.SESSIONS_SIZE  # session registers per slot array (sizes.p4's default)
MAX_ORPHAN_FLOWS = 4096  # flows with data held before their digest arrived
GEN_LIMIT = (1 << 32) - 1  # session gens are 32-bit, 0 excluded


class State(IntEnum):
    """session_state register values (p4src/README.md)."""

    NONE = p4consts.SESSION_NONE
    SYN_SENT = p4consts.SESSION_SYN_SENT
    ESTABLISHED = p4consts.SESSION_ESTABLISHED
    FIN_WAIT = p4consts.SESSION_FIN_WAIT
    CLOSE_WAIT = p4consts.SESSION_CLOSE_WAIT
    LAST_ACK = p4consts.SESSION_LAST_ACK
    TIME_WAIT = p4consts.SESSION_TIME_WAIT
    CLOSE = p4consts.SESSION_CLOSE


_STATE_NAMES = tuple(st.name.lower() for st in State)


def state_name(value: int) -> str:
    if 0 <= value < len(_STATE_NAMES):
        return _STATE_NAMES[value]
    return f"unknown({value})"


def reuse_allowed(reuse: Reuse, old_state: int) -> bool:
    """C5: may a valid cookie ACK restart a session found in `old_state`?"""
    per_state = {
        State.CLOSE: reuse.close,
        State.TIME_WAIT: reuse.time_wait,
        State.FIN_WAIT: reuse.fin_wait,
        State.CLOSE_WAIT: reuse.close_wait,
        State.LAST_ACK: reuse.last_ack,
    }
    return reuse.enabled and per_state.get(State(old_state) if old_state in State._value2member_map_
                                           else State.NONE, False)


def state_timeout(cfg: Sessions, state: int) -> float | None:
    """Seconds a session may stay in `state` (C6); None: no state timeout."""
    t = cfg.timeouts
    return {
        State.SYN_SENT: t.syn_sent,
        State.ESTABLISHED: t.established,
        State.FIN_WAIT: t.fin_wait,
        State.CLOSE_WAIT: t.close_wait,
        State.LAST_ACK: t.last_ack,
        State.TIME_WAIT: t.time_wait,
        State.CLOSE: t.close,
    }.get(State(state) if state in State._value2member_map_ else State.NONE)


def retransmit_delay(cfg: Sessions, attempt: int) -> float:
    """Wait before resend number `attempt + 1` (attempt 0 is the first SYN): the
    first timeout doubles each time (C3), as TCP's own SYN retransmissions do."""
    return cfg.syn_timeout * (2 ** attempt)


@dataclass(slots=True)
class HeldData:
    """Client segments held while the server handshake is pending (C4), in arrival
    order, bounded in bytes; a retransmitted segment is held once."""

    frames: list[bytes] = field(default_factory=list)
    nbytes: int = 0
    seen: set[tuple[int, int]] = field(default_factory=set)
    since: float = 0.0


@dataclass(slots=True)
class Session:
    slot: int
    flow: FlowKey
    service_id: int
    rs_addr: int
    rs_port: int
    cookie: int
    client_isn: int
    handshake: Handshake | None  # None when restored from the switch: no SYN to resend
    state: int = State.SYN_SENT
    state_since: float = 0.0
    created: float = 0.0
    attempts: int = 0  # SYNs sent so far
    next_retx: float | None = None
    held: HeldData = field(default_factory=HeldData)
    idle: dict[str, float] = field(default_factory=dict)  # direction -> notified at
    ingress_port: int = 0
    # When the switch confirmed our last write of this session (None: a write is in
    # flight). A state read issued before that time may predate the write: ignored.
    confirmed: float | None = None
    # The incarnation of the slot the switch's entries carry (p4src/README.md): new for
    # every install and restart; a digest of another gen is an earlier incarnation's.
    gen: int = 0
    # D7, FULLNAT: the local address and port towards the real server (0, 0: none).
    laddr: int = 0
    lport: int = 0


class SessionTable:
    """Sessions by slot and by flow, with free slots, timers and held data."""

    def __init__(self, cfg: Sessions, slots: int = SLOT_LIMIT) -> None:
        self.cfg = cfg
        self.slots = slots  # the program's session registers (P4Info), slot 0 unused
        self.capacity = min(cfg.max, slots - 1)
        self._free: deque[int] = deque(range(1, self.capacity + 1))
        self._limbo: set[int] = set()  # freed here, delete not yet confirmed
        self.by_slot: dict[int, Session] = {}
        self.by_flow: dict[FlowKey, Session] = {}
        self.orphans: dict[FlowKey, HeldData] = {}
        self._timers: list[tuple[float, int, int]] = []  # (deadline, slot, attempts)
        self._untimed = False  # restored SYN_SENT sessions without a SYN to resend
        self.last_gen = 0  # the highest session gen handed out (or read back)
        # (service id, rs address, rs port) -> its sessions in the table (least connection)
        self.per_server: dict[tuple[int, int, int], int] = {}
        # D7: FULLNAT tuples in use; a freed session's stays taken until its slot is
        # recycled (the switch forgot its entries).
        self.local_ports = LocalPorts()
        self._limbo_local: dict[int, tuple[int, int, int, int]] = {}
        self.stats = {"full": 0, "early_dropped_bytes": 0, "early_dropped_packets": 0,
                      "early_held_packets": 0, "orphans_dropped": 0}

    def __len__(self) -> int:
        return len(self.by_slot)

    def new_gen(self) -> int:
        """The next session gen: 1..2^32-1, never 0 (the data plane's `session_gen`
        cells start at 0, so a gen of 0 would make a first install look current)."""
        self.last_gen = self.last_gen % GEN_LIMIT + 1
        return self.last_gen

    @property
    def free_slots(self) -> int:
        return len(self._free)

    # ------------------------------------------------------------------ slots

    def allocate(self, flow: FlowKey, *, service_id: int, rs_addr: int, rs_port: int,
                 cookie: int, client_isn: int, handshake: Handshake | None, now: float,
                 ingress_port: int = 0, local: LocalPair | None = None) -> Session | None:
        """A new SYN_SENT session in a free slot; None (and counted) when full.
        `local`: its FULLNAT tuple, allocated from `local_ports` by the caller (given
        back here when the table is full)."""
        if flow in self.by_flow:
            raise ValueError(f"flow {flow} already has slot {self.by_flow[flow].slot}")
        if not self._free:
            self.stats["full"] += 1
            if local is not None:
                self.local_ports.release(*local, rs_addr, rs_port)
            return None
        slot = self._free.popleft()
        s = Session(slot, flow, service_id, rs_addr, rs_port, cookie, client_isn, handshake,
                    State.SYN_SENT, now, now, ingress_port=ingress_port, gen=self.new_gen())
        if local is not None:
            s.laddr, s.lport = local
        self._adopt(s)
        return s

    def restore(self, s: Session) -> None:
        """Add a session read back from the switch (C9); its slot leaves the free list."""
        if s.slot in self.by_slot or not 1 <= s.slot <= self.capacity:
            raise ValueError(f"slot {s.slot} is taken or out of range")
        if s.laddr and not self.local_ports.claim(s.laddr, s.lport, s.rs_addr, s.rs_port):
            raise ValueError(f"slot {s.slot}: local tuple {s.laddr}:{s.lport} towards "
                             f"{s.rs_addr}:{s.rs_port} is another session's")
        self._free.remove(s.slot)
        self._limbo.discard(s.slot)
        self.last_gen = max(self.last_gen, s.gen)
        self._adopt(s)
        if s.state == State.SYN_SENT:
            if s.next_retx is None:
                self._untimed = True
            else:
                heapq.heappush(self._timers, (s.next_retx, s.slot, s.attempts))

    def _count(self, s: Session, n: int, rs: tuple[int, int] | None = None) -> None:
        k = (s.service_id, *(rs or (s.rs_addr, s.rs_port)))
        left = self.per_server.get(k, 0) + n
        if left > 0:
            self.per_server[k] = left
        else:
            self.per_server.pop(k, None)

    def _adopt(self, s: Session) -> None:
        self.by_slot[s.slot] = s
        self.by_flow[s.flow] = s
        self._count(s, 1)
        orphan = self.orphans.pop(s.flow, None)
        if orphan is not None:
            s.held = orphan

    def release(self, s: Session) -> None:
        """Forget a session; its slot waits in limbo until `recycle`."""
        if self.by_slot.get(s.slot) is s:
            del self.by_slot[s.slot]
            self.by_flow.pop(s.flow, None)
            self._limbo.add(s.slot)
            self._count(s, -1)
            if s.laddr:
                self._limbo_local[s.slot] = (s.laddr, s.lport, s.rs_addr, s.rs_port)

    def recycle(self, slot: int) -> None:
        """The switch no longer knows `slot`: it may be allocated again."""
        if slot in self._limbo:
            self._limbo.discard(slot)
            self._free.append(slot)
            local = self._limbo_local.pop(slot, None)
            if local is not None:
                self.local_ports.release(*local)

    def restart(self, s: Session, *, rs_addr: int, rs_port: int, cookie: int, client_isn: int,
                handshake: Handshake | None, now: float, ingress_port: int = 0,
                local: LocalPair | None = None) -> None:
        """C5: a closing session's slot and flow start a new connection in place.
        `local`: its new FULLNAT tuple (the caller allocated it; the old one is given
        back here)."""
        if self.by_slot.get(s.slot) is s:
            self._count(s, -1)
            self._count(s, 1, (rs_addr, rs_port))
        if s.laddr and (s.laddr, s.lport, s.rs_addr, s.rs_port) != (
                *(local or (0, 0)), rs_addr, rs_port):
            self.local_ports.release(s.laddr, s.lport, s.rs_addr, s.rs_port)
        s.laddr, s.lport = local or (0, 0)
        s.rs_addr, s.rs_port, s.cookie, s.client_isn = rs_addr, rs_port, cookie, client_isn
        s.handshake, s.ingress_port = handshake, ingress_port
        s.state, s.state_since, s.created = State.SYN_SENT, now, now
        s.attempts, s.next_retx, s.idle, s.confirmed = 0, None, {}, None
        s.gen = self.new_gen()
        s.held = self.orphans.pop(s.flow, HeldData())

    # ------------------------------------------------------------------ SYN retransmission (C3)

    def syn_sent(self, s: Session, now: float) -> None:
        """Record that a SYN (first or resent) went out now."""
        s.next_retx = now + retransmit_delay(self.cfg, s.attempts)
        s.attempts += 1
        heapq.heappush(self._timers, (s.next_retx, s.slot, s.attempts))

    def due(self, now: float) -> tuple[list[Session], list[Session]]:
        """(sessions whose SYN must be resent, sessions to give up on). Timers live in a
        heap, so a tick costs the number of due sessions, not the table size; a timer
        whose session moved on (answered, freed, resent) is skipped."""
        resend: list[Session] = []
        give_up: list[Session] = []
        timers = self._timers
        while timers and timers[0][0] <= now:
            deadline, slot, attempts = heapq.heappop(timers)
            s = self.by_slot.get(slot)
            if (s is None or s.state != State.SYN_SENT or s.attempts != attempts
                    or s.next_retx != deadline):
                continue
            (resend if s.attempts <= self.cfg.syn_retries and s.handshake else give_up).append(s)
        if self._untimed:
            # Restored without the SYN's parameters: only the state timeout applies.
            waiting = [s for s in self.by_slot.values()
                       if s.state == State.SYN_SENT and s.next_retx is None]
            expired = [s for s in waiting if now - s.state_since >= self.cfg.timeouts.syn_sent]
            give_up.extend(expired)
            self._untimed = len(waiting) > len(expired)
        return resend, give_up

    # ------------------------------------------------------------------ state (C6)

    def established(self, s: Session, now: float) -> list[bytes]:
        """The server answered: stop retrying and hand back the held data, in order."""
        self.set_state(s, State.ESTABLISHED, now)
        s.next_retx = None
        frames = s.held.frames
        s.held = HeldData()
        return frames

    def set_state(self, s: Session, state: int, now: float) -> None:
        if state != s.state:
            s.state = state
            s.state_since = now
            if state != State.SYN_SENT:
                s.next_retx = None

    def observe(self, states: dict[int, int], now: float,
                among: Iterable[Session] | None = None) -> None:
        """States read from the switch's session_state register (for `among`, or all)."""
        for s in self.by_slot.values() if among is None else among:
            value = states.get(s.slot)
            if value is not None and value != State.NONE:
                self.set_state(s, value, now)

    def expired(self, now: float, idle_supported: bool,
                among: Iterable[Session] | None = None) -> list[Session]:
        """Sessions (of `among`, or all) past their state's timeout. ESTABLISHED
        sessions are left to idle timeouts when the target has them: a busy
        connection must not be cut."""
        out = []
        for s in self.by_slot.values() if among is None else among:
            if s.state == State.SYN_SENT:
                continue  # the retransmission schedule owns it
            if s.state == State.ESTABLISHED and idle_supported:
                continue
            limit = state_timeout(self.cfg, s.state)
            if limit is not None and now - s.state_since >= limit:
                out.append(s)
        return out

    def idle(self, s: Session, direction: str, now: float) -> bool:
        """An idle-timeout notification for one direction's entry; True when both
        directions have been idle, so the session may be expired."""
        s.idle[direction] = now
        window = self.cfg.timeouts.established
        return all(now - s.idle.get(d, -1e18) <= window for d in ("client", "server"))

    # ------------------------------------------------------------------ held data (C4)

    def hold(self, flow: FlowKey, frame: bytes, seq: int, payload_len: int, now: float,
             new_connection: bool = False, cookie: int | None = None) -> bool:
        """Hold a client segment for `flow` until its session is established. False when
        it was not held: over the per-session byte bound, too many orphan flows, or the
        session it belongs to is past its handshake (the caller then delivers it).

        `new_connection`: a valid cookie ACK's data (PUNT_COOKIE_DATA), `cookie` its
        ack - 1. The switch may punt it before or after the session exists (C4): if
        the flow's session has that cookie, the segment is that connection's (held
        while SYN_SENT, else not held); if not (or the cookie is unknown) and the
        session is past SYN_SENT, it is held for the connection its digest will
        create, as a new connection on a closing session's 4-tuple (C5)."""
        s = self.by_flow.get(flow)
        if s is not None and s.state != State.SYN_SENT:
            if not new_connection or (cookie is not None and s.cookie == cookie):
                return False
            s = None
        held: HeldData | None = s.held if s is not None else self.orphans.get(flow)
        if held is None:
            if len(self.orphans) >= MAX_ORPHAN_FLOWS:
                self.stats["orphans_dropped"] += 1
                self.stats["early_dropped_packets"] += 1
                self.stats["early_dropped_bytes"] += payload_len
                return False
            held = self.orphans[flow] = HeldData(since=now)
        key = (seq, payload_len)
        if key in held.seen:
            return True
        if held.nbytes + payload_len > self.cfg.early_data_bytes:
            self.stats["early_dropped_packets"] += 1
            self.stats["early_dropped_bytes"] += payload_len
            return False
        held.seen.add(key)
        held.frames.append(frame)
        held.nbytes += payload_len
        self.stats["early_held_packets"] += 1
        return True

    def expire_orphans(self, now: float) -> int:
        """Drop data held for flows whose digest never came (the ACK was not valid
        after all, or the table was full)."""
        limit = self.cfg.timeouts.syn_sent
        old = [f for f, h in self.orphans.items() if now - h.since >= limit]
        for f in old:
            del self.orphans[f]
        return len(old)

    # ------------------------------------------------------------------ views

    def by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.by_slot.values():
            name = state_name(s.state)
            counts[name] = counts.get(name, 0) + 1
        return counts
