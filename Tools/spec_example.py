#!/usr/bin/env python3
"""Prints the byte-level parts of Formats/rill.md §13 (the worked example) from a real file,
so that the spec is regenerated rather than edited by hand when the metadata changes:

    .build/release/rill convert Tests/Fixtures/mamba-tiny -o /tmp/x.rill --quant int4
    python3 Tools/spec_example.py /tmp/x.rill

It reads the file with nothing but the layout §3 and §5 describe (no Rill code), so it is also
a small independent reader of the header and the tensor table.
"""
import struct
import sys


def xxd(data, base):
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hexs = " ".join(chunk[i:i + 2].hex() for i in range(0, len(chunk), 2))
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{base + off:08x}: {hexs:<40} {text}")
    return "\n".join(lines)


def main(path):
    b = open(path, "rb").read()
    h = b[:128]
    major, minor, hsize = struct.unpack_from("<HHI", h, 8)
    (file_size, meta_off, meta_len, tok_off, tok_len, table_off, table_len) = struct.unpack_from("<7Q", h, 16)
    count, _ = struct.unpack_from("<II", h, 72)
    data_off, data_len = struct.unpack_from("<2Q", h, 80)
    mx, tx, tabx, hx = struct.unpack_from("<4Q", h, 96)
    print("```\n" + xxd(h, 0) + "\n```\n")
    rows = [
        (0, h[0:8], "magic", ""), (8, h[8:10], "major", major), (10, h[10:12], "minor", minor),
        (12, h[12:16], "header_size", hsize), (16, h[16:24], "file_size", f"{file_size:,}".replace(",", " ")),
        (24, h[24:26], "metadata_offset", meta_off), (32, h[32:34], "metadata_length", meta_len),
        (40, h[40:42], "tokenizer_offset", f"{tok_off} = {meta_off} + {meta_len}"),
        (48, h[48:51], "tokenizer_length", f"{tok_len:,} (the fixture's `tokenizer.json`)".replace(",", " ")),
        (56, h[56:59], "table_offset", f"{table_off:,} = {tok_off} + {tok_len:,}".replace(",", " ")),
        (64, h[64:66], "table_length", f"{table_len:,}".replace(",", " ")),
        (72, h[72:76], "tensor_count", count), (76, h[76:80], "reserved", 0),
        (80, h[80:83], "data_offset", f"{data_off:,} = align64({table_off:,} + {table_len:,} = {table_off + table_len:,})".replace(",", " ")),
        (88, h[88:91], "data_length", f"{data_len:,} = {file_size:,} − {data_off:,}".replace(",", " ")),
        (96, h[96:104], "metadata_xxh64", f"0x{mx:016x}"),
        (104, h[104:112], "tokenizer_xxh64", f"0x{tx:016x} (= the `tokenizer.json` entry in provenance)"),
        (112, h[112:120], "table_xxh64", f"0x{tabx:016x}"),
        (120, h[120:128], "header_xxh64", f"0x{hx:016x} = XXH64(bytes 0…119)"),
    ]
    print("| offset | bytes | field | value |\n|---:|---|---|---|")
    for off, raw, name, val in rows:
        full = off in (0, 8, 10, 12, 16, 72, 76, 96, 104, 112, 120)
        shown = " ".join(f"{x:02x}" for x in raw) + ("" if full else " …")
        print(f"| {off} | `{shown}` | {name} | {val} |")
    print(f"\nThe metadata ({meta_len} bytes at {meta_off}):\n\n```json\n{b[meta_off:meta_off + meta_len].decode()}\n```\n")
    # First table entry (§5): u16 name length, name, u8 type, u8 rank, u16 reserved, dims u64,
    # offset u64, length u64, xxh64 u64.
    p = table_off
    (n,) = struct.unpack_from("<H", b, p)
    name = b[p + 2:p + 2 + n].decode()
    q = p + 2 + n
    typ, rank = b[q], b[q + 1]
    dims = struct.unpack_from(f"<{rank}Q", b, q + 4)
    off, length, x = struct.unpack_from("<3Q", b, q + 4 + 8 * rank)
    print(f"First table entry: {name}, type {typ}, rank {rank}, shape {list(dims)}, offset {off:,}, length {length:,}, xxh64 0x{x:016x}".replace(",", " "))


if __name__ == "__main__":
    main(sys.argv[1])
