"""packager/slim/elfstrip.py on real shared objects of this virtualenv (uvloop and httptools ship
their DWARF; grpcio's is already stripped), and on copies corrupted so that the rewrite is unsafe."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from packager.slim import elfstrip
from packager.slim.elfstrip import strip_debug


def _module_file(package: str, stem: str) -> Path:
    module = __import__(package)
    hits = sorted(Path(module.__file__).parent.rglob(f"{stem}*.so"))
    if not hits:
        pytest.skip(f"{package} has no {stem}*.so here")
    return hits[0]


@pytest.fixture(scope="module")
def uvloop_so() -> Path:
    return _module_file("uvloop", "loop.")


@pytest.fixture(scope="module")
def httptools_so() -> Path:
    return _module_file("httptools", "parser.")


def sections(data: bytes) -> list[tuple[str, int, int, int]]:
    """(name, type, flags, size) of every section, read with the module's parser."""
    return [(s.name, s.type, s.flags, s.size) for s in elfstrip._parse(data).sections]


def test_debug_sections_go_and_every_mapped_byte_stays(uvloop_so: Path) -> None:
    data = uvloop_so.read_bytes()
    assert any(name.startswith(".debug") for name, *_ in sections(data)), "uvloop's wheel ships DWARF"
    result = strip_debug(data)
    assert result.data is not None, result.reason
    assert ".debug_info" in result.removed and ".debug_line" in result.removed
    assert len(result.data) < len(data) // 4  # 13.6 MB -> 1.9 MB with uvloop 0.23
    assert result.saved == len(data) - len(result.data)
    before, after = elfstrip._parse(data), elfstrip._parse(result.data)
    assert after.segments == before.segments  # the loader's view: identical program headers ...
    cut = elfstrip._segment_end(before)
    header = struct.calcsize(before.fmt.ehdr)
    assert result.data[header:cut] == data[header:cut]  # ... and identical bytes up to the last segment
    kept = [s for s in sections(data) if not s[0].startswith(".debug")]
    assert sections(result.data) == kept  # everything else (.symtab, .strtab, .comment) is kept
    assert [n for n, *_ in sections(result.data)].count(".symtab") == 1


def test_the_result_matches_objcopy_strip_debug(uvloop_so: Path, tmp_path: Path) -> None:
    objcopy = shutil.which("objcopy")
    if objcopy is None:
        pytest.skip("binutils not installed")
    out = tmp_path / "ref.so"
    subprocess.run([objcopy, "--strip-debug", str(uvloop_so), str(out)], check=True)
    ours = strip_debug(uvloop_so.read_bytes()).data
    assert ours is not None
    assert [n for n, *_ in sections(ours)] == [n for n, *_ in sections(out.read_bytes())]
    assert abs(len(ours) - out.stat().st_size) < 64 * 1024  # alignment padding only


def test_stripped_modules_import_and_work(uvloop_so: Path, httptools_so: Path, tmp_path: Path) -> None:
    """The real test of a rewrite: the stripped extension modules load and run in a fresh interpreter."""
    for module_file in (uvloop_so, httptools_so):
        package = module_file.parent
        while (package.parent / "__init__.py").is_file():
            package = package.parent
        copy = tmp_path / package.name
        shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
        target = copy / module_file.relative_to(package)
        stripped = strip_debug(target.read_bytes()).data
        assert stripped is not None
        target.write_bytes(stripped)
    code = (
        "import asyncio, sys, uvloop, httptools\n"
        f"assert uvloop.__file__.startswith({str(tmp_path)!r}) and httptools.__file__.startswith({str(tmp_path)!r})\n"
        "async def main():\n"
        "    await asyncio.sleep(0)\n"
        "    return 42\n"
        "loop = uvloop.new_event_loop()\n"
        "assert loop.run_until_complete(main()) == 42\n"
        "class P:\n"
        "    def on_url(self, url): self.url = url\n"
        "p = P(); httptools.HttpRequestParser(p).feed_data(b'GET /x?y=1 HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n')\n"
        "print(p.url.decode())\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + code],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "/x?y=1"


def test_already_stripped_or_not_elf_is_left_alone() -> None:
    import grpc

    cygrpc = next(Path(grpc.__file__).parent.rglob("cygrpc*.so"))
    assert strip_debug(cygrpc.read_bytes()) == elfstrip.StripResult(None, (), 0, "no debug sections")
    assert strip_debug(b"#!/bin/sh\necho hi\n").reason == "not an ELF file"
    assert strip_debug(b"\x7fELF" + b"\0" * 60).data is None


def test_deterministic(httptools_so: Path) -> None:
    data = httptools_so.read_bytes()
    first = strip_debug(data).data
    assert first is not None and first == strip_debug(data).data
    assert strip_debug(first).reason == "no debug sections"  # idempotent


def _patch_section(data: bytes, name: str, **fields: int) -> bytes:
    elf = elfstrip._parse(data)
    section = next(s for s in elf.sections if s.name == name)
    order = ("sh_name", "type", "flags", "addr", "offset", "size", "link", "info", "addralign", "entsize")
    values = [getattr(section, k) for k in order]
    for key, value in fields.items():
        values[order.index(key)] = value
    out = bytearray(data)
    struct.pack_into(elf.fmt.shdr, out, elf.shoff + section.index * elf.shentsize, *values)
    return bytes(out)


def test_unsafe_layouts_are_refused(httptools_so: Path) -> None:
    data = httptools_so.read_bytes()
    elf = elfstrip._parse(data)
    text = next(s for s in elf.sections if s.name == ".text")
    debug = next(s for s in elf.sections if s.name == ".debug_info")
    # a debug section inside the mapped part of the file: dropping it would free nothing and
    # the loader's bytes must stay where they are
    inside = _patch_section(data, ".debug_info", offset=text.offset, size=16)
    assert strip_debug(inside).reason == ".debug_info lies inside the mapped part of the file"
    # a kept section that links to a removed one
    linked = _patch_section(data, ".comment", link=debug.index)
    assert strip_debug(linked).reason == ".comment links to removed section .debug_info"
    # a removed section numbered before an allocated one would renumber what .dynsym refers to
    alloc = _patch_section(data, ".debug_info", flags=elfstrip.SHF_ALLOC)
    assert strip_debug(alloc).reason == "debug sections are numbered before allocated sections"
    for bad in (inside, linked, alloc):
        assert strip_debug(bad).data is None


def _set_symbol(data: bytearray, index: int, info: int, shndx: int) -> tuple[elfstrip._Section, int]:
    elf = elfstrip._parse(bytes(data))
    symtab = next(s for s in elf.sections if s.name == ".symtab")
    size = struct.calcsize(elf.fmt.sym)
    fields = list(struct.unpack_from(elf.fmt.sym, data, symtab.offset + index * size))
    fields[1], fields[3] = info, shndx  # ELF64: st_info, st_shndx
    struct.pack_into(elf.fmt.sym, data, symtab.offset + index * size, *fields)
    return symtab, size


def test_a_function_in_a_debug_section_is_refused(httptools_so: Path) -> None:
    data = bytearray(httptools_so.read_bytes())
    elf = elfstrip._parse(bytes(data))
    debug = next(s for s in elf.sections if s.name == ".debug_info")
    symtab = next(s for s in elf.sections if s.name == ".symtab")
    last = symtab.size // symtab.entsize - 1  # a global symbol (they come after the locals)
    _set_symbol(data, last, (1 << 4) | 2, debug.index)  # STB_GLOBAL, STT_FUNC
    assert strip_debug(bytes(data)).reason == ".symtab: a symbol is defined in removed section .debug_info"


def test_section_symbols_of_debug_sections_are_dropped(httptools_so: Path) -> None:
    """pysimdjson's csimdjson.abi3.so has a local section symbol for each of its debug sections;
    like objcopy, the rewrite drops them (later symbols shift down, sh_info follows)."""
    data = bytearray(httptools_so.read_bytes())
    elf = elfstrip._parse(bytes(data))
    debug = next(s for s in elf.sections if s.name == ".debug_line")
    symtab, size = _set_symbol(data, 1, elfstrip.STT_SECTION, debug.index)  # STB_LOCAL, STT_SECTION
    result = strip_debug(bytes(data))
    assert result.data is not None, result.reason
    new = elfstrip._parse(result.data)
    new_symtab = next(s for s in new.sections if s.name == ".symtab")
    assert new_symtab.size == symtab.size - size and new_symtab.info == symtab.info - 1
    old_rest = bytes(data[symtab.offset + 2 * size:symtab.offset + symtab.size])
    new_rest = result.data[new_symtab.offset + size:new_symtab.offset + new_symtab.size]
    assert len(old_rest) == len(new_rest)  # every other symbol, in order (only st_shndx may be renumbered)
    assert result.data[new_symtab.offset:new_symtab.offset + size] == bytes(data[symtab.offset:symtab.offset + size])


def test_symbols_of_moved_sections_are_renumbered(httptools_so: Path) -> None:
    """A .symtab symbol defined in a kept non-allocated section after the debug ones follows it."""
    data = bytearray(httptools_so.read_bytes())
    elf = elfstrip._parse(bytes(data))
    symtab = next(s for s in elf.sections if s.name == ".symtab")
    size = struct.calcsize(elf.fmt.sym)
    fields = list(struct.unpack_from(elf.fmt.sym, data, symtab.offset + size))
    fields[3] = symtab.index  # points at .symtab itself, which moves down past the removed sections
    struct.pack_into(elf.fmt.sym, data, symtab.offset + size, *fields)
    result = strip_debug(bytes(data))
    assert result.data is not None, result.reason
    new = elfstrip._parse(result.data)
    new_symtab = next(s for s in new.sections if s.name == ".symtab")
    moved = struct.unpack_from(new.fmt.sym, result.data, new_symtab.offset + size)
    assert moved[3] == new_symtab.index < symtab.index
    assert new.sections[new_symtab.link].name == ".strtab"


def test_pysimdjson_is_stripped_and_still_parses(tmp_path: Path) -> None:
    """pysimdjson 7 (a runtime dependency for JSON -> numpy) ships a 7.5 MB csimdjson.abi3.so with
    DWARF and a local section symbol per debug section."""
    simdjson = pytest.importorskip("simdjson")
    import csimdjson

    so = Path(csimdjson.__file__)
    result = strip_debug(so.read_bytes())
    assert result.data is not None, result.reason
    assert len(result.data) < so.stat().st_size // 5
    shutil.copytree(Path(simdjson.__file__).parent, tmp_path / "simdjson")
    (tmp_path / so.name).write_bytes(result.data)
    code = (f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
            "import csimdjson, simdjson\n"
            f"assert csimdjson.__file__.startswith({str(tmp_path)!r})\n"
            "print(simdjson.Parser().parse(b'{\"a\": [1, 2.5]}').as_dict())\n")
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{'a': [1, 2.5]}"
