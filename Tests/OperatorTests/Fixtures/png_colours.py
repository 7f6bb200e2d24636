#!/usr/bin/env python3
"""Decodes a PNG (8-bit RGB or RGBA, as Chromium writes screenshots) with zlib only and prints JSON:
{"width", "height", "colours": number of distinct RGB colours, "has": {"#rrggbb": pixel count} for each colour
given as an argument}. Used by BrowserReportTests to tell a rendered page from a blank one."""
import json
import struct
import sys
import zlib

path, wanted = sys.argv[1], [c.lower() for c in sys.argv[2:]]
data = open(path, "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit("not a PNG")
pos, idat, width = 8, b"", None
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    chunk = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, colour_type = struct.unpack(">IIBB", chunk[:10])
        if depth != 8 or colour_type not in (2, 6):
            sys.exit("unsupported PNG: depth %d colour type %d" % (depth, colour_type))
        bpp = 3 if colour_type == 2 else 4
    elif kind == b"IDAT":
        idat += chunk
    pos += 12 + length
raw = zlib.decompress(idat)
stride = width * bpp
previous = bytearray(stride)
colours = {}
offset = 0
for _ in range(height):
    filter_type = raw[offset]
    line = bytearray(raw[offset + 1:offset + 1 + stride])
    offset += 1 + stride
    for i in range(stride):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        up_left = previous[i - bpp] if i >= bpp else 0
        if filter_type == 1:
            line[i] = (line[i] + left) & 255
        elif filter_type == 2:
            line[i] = (line[i] + up) & 255
        elif filter_type == 3:
            line[i] = (line[i] + ((left + up) >> 1)) & 255
        elif filter_type == 4:
            p = left + up - up_left
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
            predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else up_left)
            line[i] = (line[i] + predictor) & 255
    for i in range(0, stride, bpp):
        key = "#%02x%02x%02x" % (line[i], line[i + 1], line[i + 2])
        colours[key] = colours.get(key, 0) + 1
    previous = line
print(json.dumps({"width": width, "height": height, "colours": len(colours), "has": {c: colours.get(c, 0) for c in wanted}}))
