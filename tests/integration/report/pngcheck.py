"""Just enough PNG decoding (zlib + struct, no Pillow) to check a screenshot: its size and the
colours in its top rows."""

import struct
import zlib


def read(path):
    with open(path, "rb") as fh:
        data = fh.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc, = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xffffffff == crc, "bad CRC in %r chunk" % kind
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    return {"width": width, "height": height, "depth": depth, "color_type": ctype, "interlace": interlace,
            "idat": b"".join(b for k, b in chunks if k == b"IDAT")}


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def colours(info, rows):
    """Distinct pixel colours (RGB tuples) of the first ``rows`` rows of an 8-bit RGB/RGBA PNG."""
    assert info["depth"] == 8 and info["color_type"] in (2, 6) and info["interlace"] == 0
    bpp = 3 if info["color_type"] == 2 else 4
    stride = info["width"] * bpp
    raw = zlib.decompressobj().decompress(info["idat"], (stride + 1) * rows)
    prev = bytearray(stride)
    seen = set()
    for y in range(rows):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xff
        elif ftype == 2:
            line = bytearray((x + p) & 0xff for x, p in zip(line, prev))
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xff
        elif ftype == 4:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                upleft = prev[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + _paeth(left, prev[i], upleft)) & 0xff
        for x in range(0, stride, bpp):
            seen.add(bytes(line[x:x + 3]))
        prev = line
    return seen
