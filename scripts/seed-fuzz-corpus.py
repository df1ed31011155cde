#!/usr/bin/env python3
"""Seed fuzz/corpus/<target>/ from ../shared/protocol/vectors/dc09_vectors.json.

Each DC-09 frame seeds dc09_decode (behind a chunk-size byte) and dc09_round_trip; each frame's
data block seeds sia_data / contact_id; each Contact ID DTMF string seeds contact_id.
"""
import hashlib
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
src = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/protocol/vectors/dc09_vectors.json"
vectors = json.loads(src.read_text(encoding="utf-8"))["vectors"]


def put(target, data):
    d = ROOT / "fuzz/corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


n = 0
for v in vectors:
    if v["kind"] == "dc09_frame":
        frame = bytes.fromhex(v["frame_hex"])
        put("dc09_decode", bytes([len(frame) or 1]) + frame)
        put("dc09_decode", b"\x07" + frame)
        put("dc09_round_trip", frame)
        data = v.get("expected", {}).get("data")
        if data:
            data = data.rstrip("]").encode("latin-1", "replace")
            put("contact_id" if "ADM-CID" in v["frame_text"] else "sia_data", data)
    elif v["kind"] == "contact_id_dtmf" and v["expected"].get("dtmf"):
        put("contact_id", v["expected"]["dtmf"].encode())
    n += 1
print(f"seeded fuzz corpora from {n} vectors")
