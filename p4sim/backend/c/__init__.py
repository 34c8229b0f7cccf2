"""p4sim's C back end: the checked program compiled to C, built with the system C
compiler, loaded with cffi.

* `ctypes_gen`: C types of P4 values and aggregate declarations;
* `cgen`: the compiler (expressions, statements, calls, blocks, frames);
* `cparser`, `ctables`, `cextern`: parsers, tables, core.p4/v1model.p4 externs;
* `cpipeline`: the v1model packet walk and the device API, in C;
* `build`: the C compiler and the content-hash cache;
* `native`: `NativePipeline`, the loaded program bound to a `DeviceState`;
* `ntables`: the native copies of the device's tables.

The hand-written runtime it links with is `p4sim/native/runtime/`.
"""
