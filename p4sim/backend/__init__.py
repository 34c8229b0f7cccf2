"""p4sim's execution engine: a checked program compiled once into Python, run with
v1model semantics.

* `codegen`: the compiler (statements, calls, blocks, calling convention), with
  `exprgen` expressions, `typegen` aggregate classes, `parsergen` parsers,
  `tablegen` tables, `externgen` core.p4/v1model.p4 externs, `emitter` the
  source buffer;
* `runtime`: what generated code calls (packet cursor, deparser sink, stacks, signals);
* `hashes`: bmv2's hash and checksum algorithms;
* `pipeline`: `Pipeline.load` / `Pipeline.process`, simple_switch's packet walk;
* `harness`: an in-process harness for tests of P4 programs.
"""
