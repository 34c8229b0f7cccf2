"""The extern, packet I/O and digest parts of P4Info generation: counters,
meters and registers, direct resources, action profiles and selectors, value
sets, controller packet metadata and digests (p4c's v1model arch handler)."""

from __future__ import annotations

from typing import Any

from p4.config.v1 import p4info_pb2

from p4sim.frontend import ast
from p4sim.frontend import types as T
from p4sim.frontend.errors import P4Error, Unsupported

from . import naming
from .p4info_helpers import (
    COUNTER_UNITS,
    MATCH_TYPES,
    METER_UNITS,
    Local,
    ctor_args,
    enum_member,
    extern_type_name,
    field_ids,
    header_type,
    int_value,
    set_preamble,
    type_args,
)
from .p4info_ids import P4Ids, SymbolTable
from .p4info_types import (
    TypeInfoBuilder,
    control_plane_width,
    flattened_fields,
    new_type_name,
    serialize_annotations,
)

MatchField = p4info_pb2.MatchField


class ExternsMixin:
    """Methods of the P4Info builder that add extern-like objects. The builder
    provides the attributes declared here."""

    p4info: p4info_pb2.P4Info
    symbols: SymbolTable
    types: TypeInfoBuilder
    digests_seen: set[str]

    def _note_type(self, t: T.Type) -> None:
        raise NotImplementedError

    def _digest_name(self, call: ast.Call, dtype: T.Type) -> str:
        raise NotImplementedError

    def _resolve_local(self, inst: naming.BlockInstance, e: ast.Expr | None) -> Any:
        raise NotImplementedError

    def _add_direct(
        self, inst: ast.Instantiation, name: str, rid: int, table_id: int, kind: str
    ) -> None:
        args = ctor_args(inst, kind)
        unit = enum_member(args.get("type"))
        if kind == "direct_counter":
            c = self.p4info.direct_counters.add()
            set_preamble(c.preamble, rid, name, self.symbols.alias(name), inst)
            c.spec.unit = COUNTER_UNITS.get(unit or "", p4info_pb2.CounterSpec.UNSPECIFIED)
            c.direct_table_id = table_id
        else:
            m = self.p4info.direct_meters.add()
            set_preamble(m.preamble, rid, name, self.symbols.alias(name), inst)
            m.spec.unit = METER_UNITS.get(unit or "", p4info_pb2.MeterSpec.UNSPECIFIED)
            m.direct_table_id = table_id

    # ------------------------------------------------------------- externs

    def _add_extern(self, inst: ast.Instantiation, name: str, tables: list[Local]) -> None:
        kind = extern_type_name(inst) or ""
        args = ctor_args(inst, kind)
        alias = self.symbols.alias(name)
        if kind == "counter":
            rid = self.symbols.id_of(P4Ids.COUNTER, name)
            c = self.p4info.counters.add()
            set_preamble(c.preamble, rid, name, alias, inst)
            unit = enum_member(args.get("type"))
            c.spec.unit = COUNTER_UNITS.get(unit or "", p4info_pb2.CounterSpec.UNSPECIFIED)
            c.size = int_value(args.get("size"), "counter size", inst.loc)
        elif kind == "meter":
            rid = self.symbols.id_of(P4Ids.METER, name)
            m = self.p4info.meters.add()
            set_preamble(m.preamble, rid, name, alias, inst)
            unit = enum_member(args.get("type"))
            m.spec.unit = METER_UNITS.get(unit or "", p4info_pb2.MeterSpec.UNSPECIFIED)
            m.size = int_value(args.get("size"), "meter size", inst.loc)
        elif kind == "register":
            rid = self.symbols.id_of(P4Ids.REGISTER, name)
            targs = type_args(inst)
            if not targs:
                raise P4Error(inst.loc, "register needs its element type")
            r = self.p4info.registers.add()
            set_preamble(r.preamble, rid, name, alias, inst)
            r.size = int_value(args.get("size"), "register size", inst.loc)
            r.type_spec.CopyFrom(self.types.spec(targs[0]))
        elif kind in ("action_profile", "action_selector"):
            rid = self.symbols.id_of(P4Ids.ACTION_PROFILE, name)
            ap = self.p4info.action_profiles.add()
            set_preamble(
                ap.preamble,
                rid,
                name,
                alias,
                inst,
                skip=("max_group_size", "selector_size_semantics", "max_member_weight"),
            )
            ap.with_selector = kind == "action_selector"
            ap.size = int_value(args.get("size"), "action profile size", inst.loc)
            self._selector_annotations(ap, inst)
            users = sorted(
                loc.name
                for loc in tables
                if isinstance(loc.decl, ast.TableDecl)
                and self._resolve_local(loc.inst, loc.decl.properties.get("implementation")) is inst
            )
            ap.table_ids.extend(self.symbols.id_of(P4Ids.TABLE, t) for t in users)
        # direct_counter / direct_meter appear through the table that uses them.

    def _selector_annotations(self, ap: p4info_pb2.ActionProfile, inst: ast.Instantiation) -> None:
        if not ap.with_selector:
            return
        mgs = inst.annotation("max_group_size")
        if mgs is not None and mgs.args:
            ap.max_group_size = int_value(mgs.args[0], "@max_group_size", mgs.loc)
        sss = inst.annotation("selector_size_semantics")
        if sss is not None:
            value = (naming.annotation_string(sss) or "").upper()
            if value == "SUM_OF_WEIGHTS":
                ap.sum_of_weights.SetInParent()
            elif value == "SUM_OF_MEMBERS":
                ap.sum_of_members.SetInParent()
            else:
                raise P4Error(
                    sss.loc, 'expected "sum_of_weights" or "sum_of_members" selector semantics'
                )
        mmw = inst.annotation("max_member_weight")
        if mmw is not None and mmw.args and ap.HasField("sum_of_members"):
            ap.sum_of_members.max_member_weight = int_value(
                mmw.args[0], "@max_member_weight", mmw.loc
            )

    def _add_value_set(self, loc: Local) -> None:
        inst = loc.decl
        assert isinstance(inst, ast.Instantiation)
        args = ctor_args(inst, "value_set")
        targs = type_args(inst)
        if not targs:
            raise P4Error(inst.loc, "value_set needs its element type")
        et = targs[0]
        vs = self.p4info.value_sets.add()
        rid = self.symbols.id_of(P4Ids.VALUE_SET, loc.name)
        set_preamble(vs.preamble, rid, loc.name, self.symbols.alias(loc.name), inst)
        vs.size = int_value(args.get("size"), "value_set size", inst.loc)
        if isinstance(et, T.BitT):
            m = vs.match.add()
            m.id = 1
            m.bitwidth = et.width
            m.match_type = MatchField.EXACT
        elif isinstance(et, T.StructT):
            fields = [(n, ft, fd) for n, ft, fd in flattened_fields(et)]
            ids = field_ids([fd for _, _, fd in fields])
            for (fname, ftype, fd), fid in zip(fields, ids, strict=True):
                if not isinstance(ftype, T.BitT):
                    raise P4Error(inst.loc, f"value_set struct field {fname} must be bit<W>")
                m = vs.match.add()
                m.id = fid
                m.name = fname
                m.bitwidth = ftype.width
                kind = "exact"
                if fd is not None:
                    ann = fd.annotation("match")
                    if ann is not None and ann.args and isinstance(ann.args[0], ast.PathExpr):
                        kind = ann.args[0].name
                    m.annotations.extend(serialize_annotations(fd, ("match",)))
                mt = MATCH_TYPES.get(kind)
                if mt is None:
                    m.other_match_type = kind
                else:
                    m.match_type = mt
        else:
            raise Unsupported(inst.loc, f"value_set of {et}")

    # ------------------------------------------------------------- packet io

    def _add_controller_header(self, hdr: ast.HeaderDecl) -> None:
        if hdr.has_annotation("hidden"):
            return
        cp_name = naming.controller_header_name(hdr)
        assert cp_name is not None
        msg = self.p4info.controller_packet_metadata.add()
        rid = self.symbols.id_of(P4Ids.CONTROLLER_HEADER, naming.decl_name(hdr))
        set_preamble(msg.preamble, rid, cp_name, cp_name, hdr)
        htype = header_type(hdr)
        fields = flattened_fields(htype)
        ids = field_ids([fd for _, _, fd in fields])
        for (fname, ftype, fd), fid in zip(fields, ids, strict=True):
            if fd is not None and fd.has_annotation("hidden"):
                continue
            md = msg.metadata.add()
            md.id = fid
            md.name = fname
            if fd is not None:
                md.annotations.extend(serialize_annotations(fd))
            md.bitwidth = control_plane_width(ftype)
            self._note_type(ftype)
            tn = new_type_name(ftype)
            if tn is not None:
                md.type_name.name = tn

    # ------------------------------------------------------------- digests

    def _add_digest(self, call: ast.Call, dtype: T.Type) -> None:
        name = self._digest_name(call, dtype)
        if name in self.digests_seen:
            return
        self.digests_seen.add(name)
        d = self.p4info.digests.add()
        rid = self.symbols.id_of(P4Ids.DIGEST, name)
        set_preamble(d.preamble, rid, name, self.symbols.alias(name), None)
        d.type_spec.CopyFrom(self.types.spec(dtype))
