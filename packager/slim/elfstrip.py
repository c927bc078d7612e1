"""Drop the debug sections of an ELF shared object, in pure Python (slim base images have no binutils).

Runs inside the image build (stdlib only, Python 3.9+; no modelpack import) and on the build host
in the unit tests. What it removes: the non-allocated sections named ``.debug*`` / ``.zdebug*``
(DWARF) and the relocation sections that apply to them. What it keeps: every byte the dynamic
loader maps (the whole file up to the end of the last segment is copied unchanged), and the
symbol table (``.symtab``), so native backtraces and profilers (perf, py-spy --native) still
name functions. The result is what ``objcopy --strip-debug`` gives, give or take alignment.

The loader reads only the ELF header and the program headers; sections are a linker and
debugger view. So the rewrite is safe exactly when the layout lets it leave the mapped part of
the file alone, and it refuses (returns a reason, changes nothing) otherwise:

- every removed section lies after the end of every segment and allocated section;
- every removed section has a higher index than every allocated section, so the indices that
  ``.dynsym``, ``.dynamic`` and the relocation sections hold (all inside mapped segments, never
  rewritten) stay valid;
- no kept section links to a removed one (``sh_link``, and ``sh_info`` where it is an index);
- no ``.symtab`` symbol is defined in a removed section; symbols in moved non-allocated
  sections are renumbered;
- no section groups, extended section numbering or ``SHT_SYMTAB_SHNDX``.

After the rewrite the output is parsed again and compared with the input: the same program
headers, the same bytes up to the cut (but for the three section-table fields of the ELF
header), the same content and names of every kept section.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

ELF_MAGIC = b"\x7fELF"
SHF_ALLOC = 0x2
SHF_INFO_LINK = 0x40
SHT_SYMTAB, SHT_RELA, SHT_NOBITS, SHT_REL = 2, 4, 8, 9
SHT_GROUP, SHT_SYMTAB_SHNDX = 17, 18
SHN_LORESERVE = 0xFF00
SHN_XINDEX = 0xFFFF


@dataclass(frozen=True)
class _Formats:
    ehdr: str
    shdr: str
    phdr: str
    sym: str
    word_align: int


def _formats(elf_class: int, endian: str) -> _Formats:
    if elf_class == 2:  # ELF64
        return _Formats(endian + "16sHHIQQQIHHHHHH", endian + "IIQQQQIIQQ", endian + "IIQQQQQQ",
                        endian + "IBBHQQ", 8)
    return _Formats(endian + "16sHHIIIIIHHHHHH", endian + "IIIIIIIIII", endian + "IIIIIIII",
                    endian + "IIIBBH", 4)


@dataclass
class _Section:
    index: int
    name: str
    sh_name: int
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    addralign: int
    entsize: int

    @property
    def alloc(self) -> bool:
        return bool(self.flags & SHF_ALLOC)

    @property
    def file_size(self) -> int:
        return 0 if self.type == SHT_NOBITS else self.size

    def info_is_index(self) -> bool:
        return self.type in (SHT_REL, SHT_RELA) or bool(self.flags & SHF_INFO_LINK)


@dataclass
class _Elf:
    fmt: _Formats
    header: list[int | bytes]
    sections: list[_Section]
    segments: list[tuple[int, ...]]

    @property
    def phoff(self) -> int:
        return int(self.header[5])

    @property
    def shoff(self) -> int:
        return int(self.header[6])

    @property
    def ehsize(self) -> int:
        return int(self.header[8])

    @property
    def phentsize(self) -> int:
        return int(self.header[9])

    @property
    def phnum(self) -> int:
        return int(self.header[10])

    @property
    def shentsize(self) -> int:
        return int(self.header[11])

    @property
    def shstrndx(self) -> int:
        return int(self.header[13])


class NotStrippable(Exception):
    """The file is not an ELF file this module can rewrite safely; the message says why."""


@dataclass(frozen=True)
class StripResult:
    data: bytes | None  # the stripped file, or None when nothing was done
    removed: tuple[str, ...]  # names of the removed sections
    saved: int  # bytes saved
    reason: str = ""  # why nothing was done


def is_elf(head: bytes) -> bool:
    return head[:4] == ELF_MAGIC


def is_debug_section(name: str) -> bool:
    """DWARF sections (plain or zlib-compressed) and relocations that apply to them."""
    for prefix in (".debug", ".zdebug", ".rela.debug", ".rel.debug"):
        if name.startswith(prefix):
            return True
    return False


def _parse(data: bytes) -> _Elf:
    if len(data) < 52 or not is_elf(data):
        raise NotStrippable("not an ELF file")
    elf_class, elf_data = data[4], data[5]
    if elf_class not in (1, 2) or elf_data not in (1, 2):
        raise NotStrippable(f"unknown ELF class {elf_class} / data encoding {elf_data}")
    fmt = _formats(elf_class, "<" if elf_data == 1 else ">")
    header = list(struct.unpack_from(fmt.ehdr, data, 0))
    elf = _Elf(fmt, header, [], [])
    if elf.shoff == 0 or int(header[12]) == 0:
        raise NotStrippable("no section header table")
    if elf.shentsize != struct.calcsize(fmt.shdr):
        raise NotStrippable(f"unexpected section header size {elf.shentsize}")
    if int(header[12]) >= SHN_LORESERVE or elf.shstrndx in (0, SHN_XINDEX):
        raise NotStrippable("extended section numbering")
    shnum = int(header[12])
    if elf.shoff + shnum * elf.shentsize > len(data):
        raise NotStrippable("section header table beyond the end of the file")
    if elf.phnum and (elf.phentsize != struct.calcsize(fmt.phdr)
                      or elf.phoff + elf.phnum * elf.phentsize > len(data)):
        raise NotStrippable("malformed program header table")
    raw = [struct.unpack_from(fmt.shdr, data, elf.shoff + i * elf.shentsize) for i in range(shnum)]
    if elf.shstrndx >= shnum:
        raise NotStrippable("section name table index out of range")
    names_off, names_size = raw[elf.shstrndx][4], raw[elf.shstrndx][5]
    if names_off + names_size > len(data):
        raise NotStrippable("section name table beyond the end of the file")
    names = data[names_off:names_off + names_size]
    for i, fields in enumerate(raw):
        end = names.find(b"\0", fields[0])
        name = names[fields[0]:end if end >= 0 else len(names)].decode("ascii", "replace")
        section = _Section(i, name, *fields)
        if section.file_size and section.offset + section.file_size > len(data):
            raise NotStrippable(f"section {name} beyond the end of the file")
        elf.sections.append(section)
    elf.segments = [struct.unpack_from(fmt.phdr, data, elf.phoff + i * elf.phentsize) for i in range(elf.phnum)]
    return elf


def _segment_end(elf: _Elf) -> int:
    """The end of the part of the file the loader can map (segments, allocated sections, headers)."""
    cut = max(elf.ehsize, elf.phoff + elf.phnum * elf.phentsize)
    for seg in elf.segments:
        # ELF64: (type, flags, offset, vaddr, paddr, filesz, memsz, align); ELF32: (type, offset, vaddr,
        # paddr, filesz, memsz, flags, align)
        offset, filesz = (seg[2], seg[5]) if elf.fmt.word_align == 8 else (seg[1], seg[4])
        if filesz:
            cut = max(cut, offset + filesz)
    for s in elf.sections:
        if s.alloc and s.file_size:
            cut = max(cut, s.offset + s.file_size)
    return cut


def _check(elf: _Elf, removed: set[int], cut: int) -> str:
    """'' when removing `removed` is safe, else the reason it is not."""
    last_alloc = max((s.index for s in elf.sections if s.alloc), default=0)
    if min(removed) <= last_alloc:
        return "debug sections are numbered before allocated sections"
    for s in elf.sections:
        if s.index in removed:
            if s.file_size and s.offset < cut:
                return f"{s.name} lies inside the mapped part of the file"
            continue
        if s.type in (SHT_GROUP, SHT_SYMTAB_SHNDX):
            return f"section {s.name} of type {s.type} (groups / extended indices) is not supported"
        if s.link in removed:
            return f"{s.name} links to removed section {elf.sections[s.link].name}"
        if s.info_is_index() and s.info in removed:
            return f"{s.name} applies to removed section {elf.sections[s.info].name}"
        if not s.alloc and s.file_size and s.offset < cut < s.offset + s.file_size:
            return f"{s.name} straddles the end of the mapped part of the file"
    return ""


def _align(buf: bytearray, alignment: int) -> None:
    if alignment > 1 and len(buf) % alignment:
        buf.extend(b"\0" * (alignment - len(buf) % alignment))


STT_SECTION = 3
STB_LOCAL = 0


def _remap_symbols(elf: _Elf, data: bytes, symtab: _Section, mapping: dict[int, int]) -> tuple[bytes, int]:
    """The .symtab section with st_shndx renumbered, and how many symbols it dropped: the local
    section symbols of removed sections go (as objcopy does); any other symbol defined in a removed
    section makes the file NotStrippable."""
    fmt = elf.fmt.sym
    size = struct.calcsize(fmt)
    if symtab.entsize != size or symtab.size % size:
        raise NotStrippable(f"{symtab.name}: unexpected symbol size {symtab.entsize}")
    raw = data[symtab.offset:symtab.offset + symtab.size]
    shndx_field, info_field = (3, 1) if elf.fmt.word_align == 8 else (5, 3)
    out = bytearray()
    dropped = 0
    for pos in range(0, len(raw), size):
        fields = list(struct.unpack_from(fmt, raw, pos))
        shndx = int(fields[shndx_field])
        if shndx != 0 and shndx < SHN_LORESERVE:
            if shndx not in mapping:
                info = int(fields[info_field])
                if info & 0xF == STT_SECTION and info >> 4 == STB_LOCAL and pos // size < symtab.info:
                    dropped += 1  # only locals, which all come before sh_info: later indices shift alike
                    continue
                raise NotStrippable(f"{symtab.name}: a symbol is defined in removed section "
                                    f"{elf.sections[shndx].name}")
            fields[shndx_field] = mapping[shndx]
        out += struct.pack(fmt, *fields)
    return bytes(out), dropped


def strip_debug(data: bytes) -> StripResult:
    """The file without its debug sections, or a StripResult with data None and the reason."""
    try:
        elf = _parse(data)
    except NotStrippable as exc:
        return StripResult(None, (), 0, str(exc))
    removed = {s.index for s in elf.sections if not s.alloc and s.index != elf.shstrndx and is_debug_section(s.name)}
    if not removed:
        return StripResult(None, (), 0, "no debug sections")
    cut = _segment_end(elf)
    reason = _check(elf, removed, cut)
    if reason:
        return StripResult(None, (), 0, reason)
    kept = [s for s in elf.sections if s.index not in removed]
    mapping = {s.index: new for new, s in enumerate(kept)}
    contents: dict[int, bytes] = {}
    dropped: dict[int, int] = {}  # symbol table index -> local symbols dropped from it
    try:
        for s in kept:
            if s.alloc:
                continue
            if s.type == SHT_SYMTAB:
                contents[s.index], dropped[s.index] = _remap_symbols(elf, data, s, mapping)
            else:
                contents[s.index] = data[s.offset:s.offset + s.file_size]
    except NotStrippable as exc:
        return StripResult(None, (), 0, str(exc))
    if any(dropped.values()):  # symbol indices shift: nothing kept may refer to them by index
        users = [s.name for s in kept if s.link in dropped and dropped[s.link] and s.type != SHT_SYMTAB]
        if users:
            return StripResult(None, (), 0, f"{users[0]} refers to symbols by index")
    out = bytearray(data[:cut])
    offsets: dict[int, int] = {}
    for s in kept:
        if s.alloc or not s.file_size:
            offsets[s.index] = s.offset if s.alloc or s.offset <= cut else cut
            continue
        if s.offset + s.file_size <= cut:
            offsets[s.index] = s.offset  # already inside the copied part; content must stay identical
            if contents[s.index] != data[s.offset:s.offset + s.file_size]:
                return StripResult(None, (), 0, f"{s.name} would need renumbering inside the mapped part")
            continue
        _align(out, max(1, s.addralign))
        offsets[s.index] = len(out)
        out += contents[s.index]
    _align(out, elf.fmt.word_align)
    shoff = len(out)
    for s in kept:
        info = mapping[s.info] if s.info_is_index() and s.info else s.info - dropped.get(s.index, 0)
        size = len(contents[s.index]) if s.index in contents else s.size
        out += struct.pack(elf.fmt.shdr, s.sh_name, s.type, s.flags, s.addr, offsets[s.index], size,
                           mapping.get(s.link, 0), info, s.addralign, s.entsize)
    header = list(elf.header)
    header[6], header[12], header[13] = shoff, len(kept), mapping[elf.shstrndx]
    struct.pack_into(elf.fmt.ehdr, out, 0, *header)
    result = bytes(out)
    _verify(data, result, elf, kept, contents, cut)
    names = tuple(elf.sections[i].name for i in sorted(removed))
    return StripResult(result, names, len(data) - len(result))


def _verify(before: bytes, after: bytes, elf: _Elf, kept: list[_Section], contents: dict[int, bytes],
            cut: int) -> None:
    """Parse the output again and check that the loader's view of the file is unchanged."""
    new = _parse(after)
    if new.segments != elf.segments:
        raise AssertionError("program headers changed")
    size = struct.calcsize(elf.fmt.ehdr)
    header_before, header_after = list(elf.header), list(new.header)
    for field in (6, 12, 13):
        header_before[field] = header_after[field] = 0
    if header_before != header_after or before[size:cut] != after[size:cut]:
        raise AssertionError("the mapped part of the file changed")
    if [s.name for s in new.sections] != [s.name for s in kept]:
        raise AssertionError("section names changed")
    for old, now in zip(kept, new.sections):
        expected = contents.get(old.index, before[old.offset:old.offset + old.file_size])
        size = len(expected) if old.index in contents else old.size
        if after[now.offset:now.offset + now.file_size] != expected or (old.type, old.flags, old.addr, size) != (
                now.type, now.flags, now.addr, now.size):
            raise AssertionError(f"section {old.name} changed")
