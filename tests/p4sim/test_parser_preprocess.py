"""The preprocessor step and locations that survive it (line markers, #include)."""

from __future__ import annotations

from pathlib import Path

import pytest

from p4sim.frontend import ast, load, parse, preprocess
from p4sim.frontend.errors import P4Error


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_markers_and_files(tmp_path: Path) -> None:
    write(tmp_path, "inc/defs.p4", "typedef bit<8> byte_t;\n\nconst byte_t K = 8w7;\n")
    main = write(
        tmp_path,
        "main.p4",
        '#include <core.p4>\n#include "inc/defs.p4"\n\nheader h { byte_t a; }\n',
    )
    text = preprocess(main)
    assert '# 1 "' in text or "# 1 " in text
    prog = parse(text, str(main))
    assert prog.source_text == text
    assert prog.files[0] == str(main)
    assert str(tmp_path / "inc/defs.p4") in prog.files
    assert any(f.endswith("core.p4") for f in prog.files)
    k = next(d for d in prog.decls if d.name == "K")
    assert (Path(k.loc.file).name, k.loc.line, k.loc.col) == ("defs.p4", 3, 1)
    h = next(d for d in prog.decls if d.name == "h")
    assert (h.loc.file, h.loc.line) == (str(main), 4)


def test_defines_and_include_dirs(tmp_path: Path) -> None:
    write(tmp_path, "lib/sizes.p4", "const bit<32> SIZE = TABLE_SIZE;\n")
    main = write(
        tmp_path,
        "main.p4",
        "#include <sizes.p4>\n#ifdef WITH_EXTRA\nconst bit<8> EXTRA = 1;\n#endif\n",
    )
    text = preprocess(main, defines={"TABLE_SIZE": 4096, "WITH_EXTRA": None},
                      include_dirs=[tmp_path / "lib"])  # fmt: skip
    prog = parse(text, str(main))
    names = {d.name: d for d in prog.decls}
    size = names["SIZE"]
    assert isinstance(size, ast.ConstDecl) and isinstance(size.value, ast.IntLit)
    assert size.value.value == 4096
    assert "EXTRA" in names
    # A target macro as defined by the bmv2 compiler, so programs can test for it.
    probe = write(tmp_path, "probe.p4", "#ifdef __TARGET_BMV2__\nconst bit<8> BMV2 = 1;\n#endif\n")
    assert "BMV2" in {d.name for d in parse(preprocess(probe)).decls}


def test_syntax_error_inside_included_file(tmp_path: Path) -> None:
    write(tmp_path, "bad.p4", "// header\n\nstruct s {\n    bit<8> a\n}\n")
    main = write(tmp_path, "main.p4", '#include <v1model.p4>\n#include "bad.p4"\n')
    with pytest.raises(P4Error) as ei:
        parse(preprocess(main), str(main))
    loc = ei.value.loc
    assert (loc.file, loc.line, loc.col) == (str(tmp_path / "bad.p4"), 5, 1)
    assert "expected ';'" in ei.value.message


def test_syntax_error_after_include_points_into_main(tmp_path: Path) -> None:
    main = write(tmp_path, "main.p4", "#include <core.p4>\n\nconst bit<8> X = 1\n")
    with pytest.raises(P4Error) as ei:
        load(main)
    assert (ei.value.loc.file, ei.value.loc.line) == (str(main), 3)


def test_missing_include(tmp_path: Path) -> None:
    main = write(tmp_path, "main.p4", '\n#include "nowhere.p4"\n')
    with pytest.raises(P4Error) as ei:
        preprocess(main)
    assert ei.value.loc.file == str(main) and ei.value.loc.line == 2
    assert "nowhere.p4" in ei.value.message


def test_error_directive(tmp_path: Path) -> None:
    main = write(tmp_path, "main.p4", "\n\n#error unsupported configuration\n")
    with pytest.raises(P4Error) as ei:
        preprocess(main)
    assert ei.value.loc.line == 3 and "unsupported configuration" in ei.value.message


def test_missing_file_and_bad_define(tmp_path: Path) -> None:
    with pytest.raises(P4Error):
        preprocess(tmp_path / "absent.p4")
    main = write(tmp_path, "main.p4", "\n")
    with pytest.raises(P4Error):
        preprocess(main, defines={"BAD NAME": 1})


def test_parse_without_markers_uses_given_filename() -> None:
    prog = parse("header h { bit<8> a; }", "given.p4")
    assert prog.files == ["given.p4"]
    assert prog.decls[0].loc.file == "given.p4"


def test_columns_survive_blank_collapsing(tmp_path: Path) -> None:
    # cpp squeezes runs of blanks and tabs; locations must still match the file.
    main = write(
        tmp_path,
        "main.p4",
        "#define W 8\nheader h {\n\tbit<W>      a;\n    bit<8>    b   c;\n}\n",
    )
    with pytest.raises(P4Error) as ei:
        parse(preprocess(main), str(main))
    assert (ei.value.loc.line, ei.value.loc.col) == (4, 19)
    prog = parse(preprocess(write(tmp_path, "ok.p4", "header h {\n\tbit<8>      a;\n}\n")))
    h = prog.decls[0]
    assert isinstance(h, ast.HeaderDecl)
    assert (h.fields[0].loc.line, h.fields[0].loc.col) == (2, 2)


def test_columns_with_comments_and_macros(tmp_path: Path) -> None:
    main = write(
        tmp_path,
        "main.p4",
        "#define EIGHT 8\n"
        "/* b; */    const   bit<EIGHT>   b = 1 ;\n"
        "const bit<8>\tc = EIGHT  +  zz;\n",
    )
    prog = parse(preprocess(main), str(main))
    b = prog.decls[0]
    assert isinstance(b, ast.ConstDecl) and b.value is not None
    assert (b.loc.line, b.loc.col, b.value.loc.col) == (2, 13, 38)
    c = prog.decls[1]
    assert isinstance(c, ast.ConstDecl) and isinstance(c.value, ast.Binary)
    # On a line changed by a macro, tokens are still found in the original text.
    assert (c.loc.col, c.value.loc.col, c.value.right.loc.col) == (1, 25, 28)
