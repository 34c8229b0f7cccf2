"""The v1model pipeline in C, as `p4sim.backend.python.pipeline` runs it (simple_switch's
packet walk), around the blocks `cgen` compiled:

    parser -> verify checksum -> ingress
      -> I2E clone (the received packet, re-parsed, to each clone session replica)
      -> digest -> resubmit | multicast | drop | unicast
    per copy: egress -> E2E clone -> drop? -> compute checksum -> deparser
      -> recirculate | transmit (truncated).

The same packet fates, instance types, pass and clone-depth bounds as the Python
back end. Two differences of order that no output shows: an I2E clone's copy is
re-parsed just before its egress (Python re-parses every copy first), and digests are
handed to the control plane after the packet (Python: between ingress and egress).

Entry points (declared for cffi in `native.CDEF`): `p4_dev_new`, `p4_dev_free`,
`p4_dev_set_table`, `p4_dev_set_register`, `p4_dev_set_counter`, `p4_dev_set_pre`,
`p4_process` and `p4_dev_result`. Clone sessions and multicast groups are asked of the
control plane through the `pre` callback (the rare path); tables, registers and
counters live in native memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from p4sim.backend.common.fieldlists import field_lists

from .cgen import CCompiler
from .ctypes_gen import ident, is_agg, u

MAX_PASSES = 16
MAX_CLONE_DEPTH = 8
MAX_OUT = 256  # P4_MAX_OUT of p4_pipe.h
MAX_DIGESTS = 64  # P4_MAX_DIGESTS
MAX_WORK = 32
MAX_PKT = 65536
OUT_CAP = 4 << 20

ROLES = ("p", "vr", "ig", "eg", "ck", "dep")


def role_types(comp: CCompiler) -> tuple[Any, Any, Any]:
    ig = comp.roles["ig"].decl
    ts = [u(p.type.resolved if p.type else None) for p in ig.params]
    return ts[0], ts[1], ts[2]


def entry(comp: CCompiler, role: str, args: list[str]) -> str:
    """`run_<role>(ctx, args)`: a frame for the top-level block, and its handler:
    controls catch `exit`, the parser catches parser errors (recorded in
    `standard_metadata.parser_error`, as bmv2); anything else is thrown on."""
    b = comp.roles[role]
    frame = comp.frame_name[id(b)]
    params = [ident(p.name) for p in b.decl.params]
    sig = ", ".join(["p4_ctx *ctx"] + [f"{t} *a{i}" for i, t in enumerate(args)])
    fill = "\n".join(f"        f.{p} = a{i};" for i, p in enumerate(params))
    is_parser = role == "p"
    handled = (
        "if (ctx->sig == P4_SIG_REJECT) {\n"
        "        if (ctx->code >= 0)\n"
        "            a3->parser_error = (uint64_t)ctx->code;\n"
        "        return;\n    }"
        if is_parser
        else "if (ctx->sig == P4_SIG_EXIT)\n        return;"
    )
    return f"""static void run_{role}({sig})
{{
    p4_catch k;
    k.prev = ctx->catcher;
    ctx->catcher = &k;
    if (setjmp(k.jb) == 0) {{
        {frame} f;
        memset(&f, 0, sizeof f);
{fill}
        /* through a volatile pointer: not inlined next to setjmp */
        void (*volatile apply)({frame} *, p4_ctx *) = {comp.apply_name[id(b)]};
        apply(&f, ctx);
        ctx->catcher = k.prev;
        return;
    }}
    ctx->catcher = k.prev;
    {handled}
    p4_throw(ctx, ctx->sig);
}}
"""


def preserve_fn(comp: CCompiler, meta_t: Any, mname: str) -> str:
    lists = field_lists(meta_t)
    cases = []
    for fl, paths in sorted(lists.items()):
        body = []
        for path in paths:
            p = ".".join(ident(x.removeprefix("f_")) for x in path)
            body.append(f"        dst->{p} = src->{p};")
        cases.append(f"    case {fl}:\n" + "\n".join(body) + "\n        break;")
    switch = "\n".join(cases)
    return f"""static void preserve(int32_t fl, const {mname} *src, {mname} *dst)
{{
    (void)src;
    (void)dst;
    switch (fl) {{
{switch}
    default:
        break;
    }}
}}
"""


def source(comp: CCompiler, frames: str) -> str:
    h_t, m_t, sm_t = role_types(comp)
    H, M, SM = (comp.types.name(t) for t in (h_t, m_t, sm_t))
    for t in (h_t, m_t, sm_t):
        if not is_agg(t):
            raise TypeError("the V1Switch blocks take structs")
    entries = "\n".join(
        [
            entry(comp, "p", ["p4_pkt", H, M, SM]),
            entry(comp, "vr", [H, M]),
            entry(comp, "ig", [H, M, SM]),
            entry(comp, "eg", [H, M, SM]),
            entry(comp, "ck", [H, M]),
            entry(comp, "dep", ["p4_bitbuf", H]),
        ]
    )
    ntables = max(comp.binder_counts.get("table", 0), 1)
    nregs = max(comp.binder_counts.get("register", 0), 1)
    ncnts = max(comp.binder_counts.get("counter", 0), 1)
    has_ts = {n for n, _ in u(sm_t).fields}
    missing = {
        "ingress_port",
        "egress_spec",
        "egress_port",
        "instance_type",
        "packet_length",
        "mcast_grp",
        "egress_rid",
        "checksum_error",
        "parser_error",
    } - has_ts
    if missing:
        raise TypeError(f"standard_metadata_t lacks {sorted(missing)}")
    ig_ts = (
        "sm->ingress_global_timestamp = (ctx->now_ns / 1000) & UINT64_C(0xFFFFFFFFFFFF);"
        if "ingress_global_timestamp" in has_ts
        else ""
    )
    eg_ts = (
        "sm->egress_global_timestamp = (ctx->now_ns / 1000) & UINT64_C(0xFFFFFFFFFFFF);"
        if "egress_global_timestamp" in has_ts
        else ""
    )
    return f"""/* Generated by p4sim's C back end from {_main_file(comp)}.
 * Do not edit: regenerated whenever the pipeline is loaded. */
#include <stdlib.h>
#include <string.h>

#include "p4_pipe.h"

/* ---- types */
{comp.types.source()}
/* ---- frames of parser and control instances */
{frames}
/* ---- the device: native state bound by the control plane */
typedef int (*p4_pre_fn)(int kind, uint32_t id, uint32_t *ports, uint32_t *rids, uint32_t max,
                         uint32_t *trunc);
typedef int (*p4_meter_fn)(int kind, uint32_t obj, uint64_t index, uint64_t nbytes);

typedef struct {{
    uint32_t port, itype, passes, len;
    int32_t fl;
    bool preserved;
    {M} meta;
    const uint8_t *data;
    uint8_t *own; /* this slot's buffer ({MAX_PKT} bytes) */
}} p4_work;

struct p4_dev {{
    p4t_table *tables[{ntables}];
    uint64_t *reg[{nregs}];
    uint64_t reg_size[{nregs}];
    uint64_t *cnt_packets[{ncnts}];
    uint64_t *cnt_bytes[{ncnts}];
    uint64_t cnt_size[{ncnts}];
    p4_pre_fn pre;
    p4_meter_fn meter;
    p4_result res;
    p4_work work[{MAX_WORK}];
    uint32_t whead, wlen;
    p4_ctx ctx;
    uint8_t deparse_buf[{MAX_PKT}];
}};

/* ---- blocks */
{chr(10).join(comp.protos)}

{chr(10).join(comp.bodies)}
{preserve_fn(comp, m_t, M)}
{entries}
/* ---- the v1model packet walk */
static void ctx_reset(p4_ctx *ctx)
{{
    ctx->nbytes = 0;
    ctx->clone_set = false;
    ctx->clone_session = 0;
    ctx->clone_fl = P4_FL_NONE;
    ctx->resubmit_fl = P4_FL_NONE;
    ctx->recirculate_fl = P4_FL_NONE;
    ctx->truncate = -1;
    ctx->checksum_error = 0;
    ctx->payload = NULL;
    ctx->payload_len = 0;
    ctx->sm = NULL;
    ctx->digest_site = 0;
    ctx->dm_hit = false;
    ctx->dm_color = 0;
}}

static void emit_out(struct p4_dev *dev, uint32_t port, const uint8_t *hdr, uint32_t nh,
                     const uint8_t *payload, uint32_t np, int64_t truncate)
{{
    p4_result *r = &dev->res;
    uint64_t len = (uint64_t)nh + np;
    if (truncate >= 0 && (uint64_t)truncate < len)
        len = (uint64_t)truncate;
    if (r->nout >= {MAX_OUT} || r->used + len > r->cap)
        p4_throw(&dev->ctx, P4_SIG_FAULT);
    uint32_t keep_h = len < nh ? (uint32_t)len : nh;
    memcpy(r->buf + r->used, hdr, keep_h);
    if (len > nh)
        memcpy(r->buf + r->used + nh, payload, (size_t)(len - nh));
    r->out[r->nout].port = port;
    r->out[r->nout].off = r->used;
    r->out[r->nout].len = (uint32_t)len;
    r->nout++;
    r->used += (uint32_t)len;
}}

static p4_work *enqueue(struct p4_dev *dev, uint32_t port, const uint8_t *data, uint32_t len,
                        uint32_t itype, int32_t fl, const {M} *meta, uint32_t passes)
{{
    if (dev->wlen >= {MAX_WORK} || len > {MAX_PKT})
        p4_throw(&dev->ctx, P4_SIG_FAULT);
    p4_work *w = &dev->work[(dev->whead + dev->wlen) % {MAX_WORK}];
    dev->wlen++;
    memmove(w->own, data, len);
    w->data = w->own;
    w->port = port;
    w->len = len;
    w->itype = itype;
    w->fl = fl;
    w->preserved = true;
    w->meta = *meta;
    w->passes = passes;
    return w;
}}

static void parse(p4_ctx *ctx, const uint8_t *data, uint32_t len, uint32_t port, uint32_t itype,
                  {H} *hdr, {M} *meta, {SM} *sm, p4_pkt *pk)
{{
    memset(hdr, 0, sizeof *hdr);
    memset(sm, 0, sizeof *sm);
    sm->ingress_port = port;
    sm->packet_length = len;
    sm->instance_type = itype;
    {ig_ts}
    pk->data = data;
    pk->pos = 0;
    pk->nbits = (uint64_t)len * 8;
    run_p(ctx, pk, hdr, meta, sm);
}}

static void egress(struct p4_dev *dev, uint32_t port, {H} *hdr, {M} *meta, {SM} *sm,
                   const uint8_t *payload, uint32_t plen, uint32_t passes, int64_t truncate_to,
                   int depth)
{{
    p4_ctx *ctx = &dev->ctx;
    ctx_reset(ctx);
    ctx->sm = sm;
    ctx->nbytes = sm->packet_length;
    ctx->payload = payload;
    ctx->payload_len = plen;
    ctx->truncate = truncate_to;
    sm->egress_port = port;
    sm->egress_spec = 0; /* (DROP_PORT + 1) & 0x1FF, as the Python back end */
    {eg_ts}
    {{
        p4_catch k;
        k.prev = ctx->catcher;
        ctx->catcher = &k;
        if (setjmp(k.jb) == 0) {{
            run_eg(ctx, hdr, meta, sm);
            ctx->catcher = k.prev;
        }} else {{
            ctx->catcher = k.prev;
            if (ctx->sig != P4_SIG_DROP)
                p4_throw(ctx, ctx->sig);
            dev->res.dropped++;
            return;
        }}
    }}
    bool clone_set = ctx->clone_set;
    uint32_t clone_session = ctx->clone_session;
    int32_t clone_fl = ctx->clone_fl;
    int32_t recirc = ctx->recirculate_fl;
    int64_t truncate = ctx->truncate;
    if (clone_set && depth < {MAX_CLONE_DEPTH}) {{
        uint32_t ports[64], rids[64], trunc = 0;
        int n = dev->pre(1, clone_session, ports, rids, 64, &trunc);
        if (n >= 0) {{
            for (int i = 0; i < n; i++) {{
                {M} m2;
                memset(&m2, 0, sizeof m2);
                preserve(clone_fl, meta, &m2);
                {SM} s2;
                memset(&s2, 0, sizeof s2);
                s2.instance_type = 2;
                s2.egress_rid = rids[i];
                s2.packet_length = sm->packet_length;
                {H} h2 = *hdr;
                egress(dev, ports[i], &h2, &m2, &s2, payload, plen, passes,
                       trunc ? (int64_t)trunc : -1, depth + 1);
            }}
            ctx_reset(ctx);
            ctx->payload = payload;
            ctx->payload_len = plen;
        }}
    }}
    if (sm->egress_spec == 511) {{
        dev->res.dropped++;
        return;
    }}
    ctx->payload = payload;
    ctx->payload_len = plen;
    run_ck(ctx, hdr, meta);
    p4_bitbuf out;
    p4_bb_init(&out, dev->deparse_buf, sizeof dev->deparse_buf);
    run_dep(ctx, &out, hdr);
    if (out.overflow)
        p4_throw(ctx, P4_SIG_FAULT);
    uint32_t nh = (uint32_t)p4_bb_bytes(&out);
    if (recirc != P4_FL_NONE) {{
        if (passes + 1 >= {MAX_PASSES}) {{
            dev->res.dropped++;
            return;
        }}
        if ((uint64_t)nh + plen > {MAX_PKT})
            p4_throw(ctx, P4_SIG_FAULT);
        uint8_t *tmp = ctx->scratch;
        if ((uint64_t)nh + plen > P4_SCRATCH)
            p4_throw(ctx, P4_SIG_FAULT);
        memcpy(tmp, dev->deparse_buf, nh);
        memcpy(tmp + nh, payload, plen);
        enqueue(dev, 0, tmp, nh + plen, 4, recirc, meta, passes + 1);
        return;
    }}
    emit_out(dev, port, dev->deparse_buf, nh, payload, plen, truncate);
}}

static void ingress(struct p4_dev *dev, p4_work *w)
{{
    p4_ctx *ctx = &dev->ctx;
    ctx_reset(ctx);
    {M} meta;
    memset(&meta, 0, sizeof meta);
    if (w->preserved)
        preserve(w->fl, &w->meta, &meta);
    {H} hdr;
    {SM} sm;
    p4_pkt pk;
    parse(ctx, w->data, w->len, w->port, w->itype, &hdr, &meta, &sm, &pk);
    ctx->nbytes = w->len;
    uint32_t off = (uint32_t)(pk.pos >> 3);
    const uint8_t *payload = w->data + off;
    uint32_t plen = w->len - off;
    ctx->payload = payload;
    ctx->payload_len = plen;
    run_vr(ctx, &hdr, &meta);
    sm.checksum_error = ctx->checksum_error;
    ctx->sm = &sm;
    {{
        p4_catch k;
        k.prev = ctx->catcher;
        ctx->catcher = &k;
        if (setjmp(k.jb) == 0) {{
            run_ig(ctx, &hdr, &meta, &sm);
            ctx->catcher = k.prev;
        }} else {{
            ctx->catcher = k.prev;
            if (ctx->sig != P4_SIG_DROP)
                p4_throw(ctx, ctx->sig);
            dev->res.dropped++;
            return;
        }}
    }}
    int64_t ig_truncate = ctx->truncate;
    bool clone_set = ctx->clone_set;
    uint32_t clone_session = ctx->clone_session;
    int32_t clone_fl = ctx->clone_fl;
    int32_t resubmit = ctx->resubmit_fl;
    if (ctx->digest_site) {{
        p4_result *r = &dev->res;
        if (r->ndigest >= {MAX_DIGESTS})
            p4_throw(ctx, P4_SIG_FAULT);
        r->digest_site[r->ndigest] = ctx->digest_site - 1;
        memcpy(r->digest_vals[r->ndigest], ctx->digest_vals, sizeof ctx->digest_vals);
        r->ndigest++;
    }}
    if (clone_set) {{
        uint32_t ports[64], rids[64], trunc = 0;
        int n = dev->pre(1, clone_session, ports, rids, 64, &trunc);
        for (int i = 0; i < n; i++) {{
            {H} h2;
            {M} m2;
            {SM} s2;
            p4_pkt pk2;
            memset(&m2, 0, sizeof m2);
            parse(ctx, w->data, w->len, w->port, 1, &h2, &m2, &s2, &pk2);
            memset(&m2, 0, sizeof m2);
            preserve(clone_fl, &meta, &m2);
            memset(&s2, 0, sizeof s2);
            s2.ingress_port = w->port;
            s2.instance_type = 1;
            s2.egress_rid = rids[i];
            s2.packet_length = w->len;
            uint32_t off2 = (uint32_t)(pk2.pos >> 3);
            egress(dev, ports[i], &h2, &m2, &s2, w->data + off2, w->len - off2, w->passes,
                   trunc ? (int64_t)trunc : -1, 0);
        }}
    }}
    if (resubmit != P4_FL_NONE) {{
        if (w->passes + 1 >= {MAX_PASSES}) {{
            dev->res.dropped++;
            return;
        }}
        enqueue(dev, w->port, w->data, w->len, 6, resubmit, &meta, w->passes + 1);
        return;
    }}
    if (sm.mcast_grp) {{
        uint32_t ports[256], rids[256], trunc = 0;
        int n = dev->pre(2, (uint32_t)sm.mcast_grp, ports, rids, 256, &trunc);
        for (int i = 0; i < n; i++) {{
            {SM} s2 = sm;
            s2.egress_rid = rids[i];
            s2.instance_type = 5;
            {H} h2 = hdr;
            {M} m2 = meta;
            egress(dev, ports[i], &h2, &m2, &s2, payload, plen, w->passes, ig_truncate, 0);
        }}
        return;
    }}
    if (sm.egress_spec == 511) {{
        dev->res.dropped++;
        return;
    }}
    sm.instance_type = 0;
    egress(dev, (uint32_t)sm.egress_spec, &hdr, &meta, &sm, payload, plen, w->passes,
           ig_truncate, 0);
}}

/* ---- API */
struct p4_dev *p4_dev_new(void)
{{
    struct p4_dev *dev = calloc(1, sizeof *dev);
    if (!dev)
        return NULL;
    dev->res.buf = malloc({OUT_CAP});
    dev->res.cap = {OUT_CAP};
    bool ok = dev->res.buf != NULL;
    for (int i = 0; i < {MAX_WORK}; i++) {{
        dev->work[i].own = malloc({MAX_PKT});
        ok = ok && dev->work[i].own != NULL;
    }}
    dev->ctx.dev = dev;
    if (!ok) {{
        for (int i = 0; i < {MAX_WORK}; i++)
            free(dev->work[i].own);
        free(dev->res.buf);
        free(dev);
        return NULL;
    }}
    return dev;
}}

void p4_dev_free(struct p4_dev *dev)
{{
    if (!dev)
        return;
    for (int i = 0; i < {MAX_WORK}; i++)
        free(dev->work[i].own);
    free(dev->res.buf);
    free(dev);
}}

int p4_dev_set_table(struct p4_dev *dev, uint32_t i, p4t_table *t)
{{
    if (i >= {ntables})
        return -1;
    dev->tables[i] = t;
    return 0;
}}

int p4_dev_set_register(struct p4_dev *dev, uint32_t i, uint64_t *cells, uint64_t n)
{{
    if (i >= {nregs})
        return -1;
    dev->reg[i] = cells;
    dev->reg_size[i] = n;
    return 0;
}}

int p4_dev_set_counter(struct p4_dev *dev, uint32_t i, uint64_t *packets, uint64_t *bytes,
                       uint64_t n)
{{
    if (i >= {ncnts})
        return -1;
    dev->cnt_packets[i] = packets;
    dev->cnt_bytes[i] = bytes;
    dev->cnt_size[i] = n;
    return 0;
}}

void p4_dev_set_pre(struct p4_dev *dev, p4_pre_fn fn, p4_meter_fn meter)
{{
    dev->pre = fn;
    dev->meter = meter;
}}

p4_result *p4_dev_result(struct p4_dev *dev)
{{
    return &dev->res;
}}

/* One received packet through the pipeline; the packets to send, digests and the
 * drop/fault counts of this call are in p4_dev_result(dev). Never fails. */
void p4_process(struct p4_dev *dev, uint64_t now_ns, uint32_t port, const uint8_t *data,
                uint32_t len)
{{
    p4_ctx *ctx = &dev->ctx;
    p4_result *r = &dev->res;
    r->nout = 0;
    r->used = 0;
    r->ndigest = 0;
    r->faults = 0;
    r->dropped = 0;
    ctx->now_ns = now_ns;
    dev->whead = 0;
    dev->wlen = 1;
    p4_work *w0 = &dev->work[0];
    w0->port = port;
    w0->data = data;
    w0->len = len;
    w0->itype = 0;
    w0->preserved = false;
    w0->passes = 0;
    while (dev->wlen) {{
        p4_work *w = &dev->work[dev->whead];
        p4_catch k;
        k.prev = NULL;
        ctx->catcher = &k;
        if (setjmp(k.jb) == 0)
            ingress(dev, w);
        else if (ctx->sig == P4_SIG_DROP)
            r->dropped++;
        else
            r->faults++;
        ctx->catcher = NULL;
        dev->whead = (dev->whead + 1) % {MAX_WORK};
        dev->wlen--;
    }}
}}

/* The pipeline alone, for benchmarks: `count` packets from `port`, cycling through
 * `pkts`, outputs and digests discarded. Returns the number of packets sent. */
uint64_t p4_run_batch(struct p4_dev *dev, uint64_t now_ns, uint32_t port,
                      const uint8_t *const *pkts, const uint32_t *lens, uint32_t npkts,
                      uint64_t count)
{{
    uint64_t sent = 0;
    for (uint64_t i = 0; i < count; i++) {{
        uint32_t k = (uint32_t)(i % npkts);
        p4_process(dev, now_ns, port, pkts[k], lens[k]);
        sent += dev->res.nout;
    }}
    return sent;
}}
"""


def _main_file(comp: CCompiler) -> str:
    """The program's own file (the first one read that is not an architecture file)."""
    files = [f for f in comp.prog.files if not f.endswith(("/core.p4", "/v1model.p4"))]
    return Path(files[0]).name if files else "a P4 program"
