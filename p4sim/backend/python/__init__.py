"""p4sim's Python back end: a checked program compiled once into Python, run with
v1model semantics (and TNA's, `tna_pipeline`).

* `codegen`: the compiler (statements, calls, blocks, calling convention), with
  `exprgen` expressions, `typegen` aggregate classes, `parsergen` parsers,
  `tablegen` tables, `externgen` core.p4/v1model.p4 externs, `emitter` the
  source buffer;
* `runtime`: what generated code calls (packet cursor, deparser sink, stacks, signals);
* `pipeline`: `Pipeline.load` / `Pipeline.process`, simple_switch's packet walk;
* `tna_pipeline`, `tna_externs`: the TNA pipeline and its externs.
"""
