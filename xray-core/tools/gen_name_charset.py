#!/usr/bin/env python3
"""Regenerates xray-core/src/name_charset.rs from the `name` pattern of the official schema.

Run from the workspace root: python3 xray-core/tools/gen_name_charset.py
The unit test `name_charset::tests::table_matches_schema` fails if the two drift apart.
"""
import json

schema = json.load(open("xray-core/schema/segment-schema.json"))
pattern = schema["properties"]["name"]["pattern"]
body = pattern[len("^["): pattern.index("]{1,200}$")]


def token(i):
    if body[i] == "\\":
        if body[i + 1] == "u":
            return int(body[i + 2:i + 6], 16), i + 6
        return ord(body[i + 1]), i + 2
    return ord(body[i]), i + 1


ranges, i = [], 0
while i < len(body):
    lo, i = token(i)
    if i + 1 < len(body) and body[i] == "-":
        hi, i = token(i + 1)
    else:
        hi = lo
    ranges.append((lo, hi))
ranges.sort()
merged = []
for lo, hi in ranges:
    if merged and lo <= merged[-1][1] + 1:
        merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
    else:
        merged.append((lo, hi))

out = [
    "//! Characters the official schema allows in a segment name (generated, do not edit).",
    "//!",
    "//! Source: the `name` pattern of `xray-core/schema/segment-schema.json`;",
    "//! regenerate with `python3 xray-core/tools/gen_name_charset.py`.",
    "",
    "/// Sorted, non-overlapping inclusive ranges of allowed code points.",
    f"pub(crate) static ALLOWED: [(u32, u32); {len(merged)}] = [",
]
for lo, hi in merged:
    out.append(f"    (0x{lo:04x}, 0x{hi:04x}),")
out.append("];")
open("xray-core/src/name_charset.rs", "w").write("\n".join(out) + "\n")
print(len(merged), "ranges")
