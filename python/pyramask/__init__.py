"""pyramask: vocabulary pyramids and structured masked-diffusion corruptions from Python.

A CPython extension over pyramask's C libraries: libtok (pyramids: nested BPE vocabularies,
encoding at every level, the alignment between levels, exports for tokenizers and tiktoken)
and libmask (corruptions: schedules, structures, mask types, importance, coarse-to-fine
chains), with numpy arrays in and out. Errors of the libraries are raised as
pyramask.Error with the library's message.

    import pyramask, numpy as np
    p = pyramask.Pyramid("kjv.pyr")                   # or Pyramid.build(levels=[...], corpus=[...])
    ids = p.encode("In the beginning", level=1)       # int32 array
    enc = pyramask.Encoded(p, text, level=1)          # ids + alignment to the coarser levels
    m = pyramask.Corruption.for_pyramid(p, level=1, structure="unit", unit_level=2)
    rng = pyramask.Rng(7)
    batch = enc.windows(starts=[0, 64, 128], length=64)
    out = m.corrupt(batch["ids"], t=[0.2, 0.5, 0.9], rng=rng, **batch["seq"])
    out["ids"], out["weight"], out["type"]            # noisy ids, ELBO weights, mask types

The same seed, t and settings give the same draws as the `pyramask` command (`pyramask
mask preview` corrupts with Rng(seed) exactly as Encoded(...).window(0, len(enc)) does).
"""

import numpy as _np

from ._pyramask import (  # noqa: F401
    MAX_CHAIN,
    MAX_LEVELS,
    REVEALS_LEVELS,
    REVEALS_RATES,
    REVEALS_TYPES,
    REVEALS_UNITS,
    Error,
    Pyramid,
    Rng,
    cluster_map,
)
from ._pyramask import Corruption as _Corruption

__all__ = ["Error", "Pyramid", "Rng", "Corruption", "Encoded", "render", "cluster_map"]


class Corruption(_Corruption):
    __doc__ = _Corruption.__doc__

    @classmethod
    def for_pyramid(cls, pyramid, level=1, *, unit_level=None, **settings):
        """A corruption of the ids of `level` of `pyramid`: vocab_size is that level's
        vocabulary, n_levels the coarser levels above it, and unit_level (for the unit
        structure, and span over whole units) a pyramid level above `level`, as the
        config's mask.unit_level is."""
        settings.setdefault("vocab_size", pyramid.vocab_size(level))
        settings.setdefault("n_levels", pyramid.nlevels - level)
        if unit_level is not None:
            settings["unit_level"] = unit_level - level
        vocab_size = settings.pop("vocab_size")
        return cls(vocab_size, **settings)


class Encoded:
    """A text encoded at one level of a pyramid with its alignment to every coarser level,
    cut into windows that Corruption takes (as the command's runs cut their data).

    ids: (n,) int32 ids at `level`; start: (n + 1,) byte offsets; unit: (L - level, n)
    index of the coarser token holding each token, for the levels level+1 .. L.
    """

    def __init__(self, pyramid, text, level=1):
        if isinstance(text, str):
            text = text.encode("utf-8")
        text = bytes(text)
        a = pyramid.align(text, level, pyramid.nlevels)
        self.text = text
        self.level = level
        self.ids = a["ids"][level]
        self.start = a["start"][level]
        hi = a["hi"]
        self.unit = _np.stack([a["unit"][k] for k in range(level + 1, hi + 1)]) if hi > level \
            else _np.zeros((0, len(self.ids)), dtype=_np.int64)

    def __len__(self):
        return len(self.ids)

    def window(self, start, length):
        """Tokens [start, start + length) as the arguments of Corruption.corrupt: a dict
        with 'ids' and 'seq' (unit_of, text, offsets relative to the window)."""
        end = start + length
        if start < 0 or length < 0 or end > len(self.ids):
            raise IndexError(f"window [{start}, {end}) outside the {len(self.ids)} tokens")
        base = int(self.start[start])
        unit = self.unit[:, start:end]
        unit = (unit - unit[:, :1]).astype(_np.int32) if length else unit.astype(_np.int32)
        return {
            "ids": self.ids[start:end].copy(),
            "seq": {
                "unit_of": unit,
                "text": self.text[base:int(self.start[end])],
                "offsets": (self.start[start:end] - base).astype(_np.int32),
            },
        }

    def windows(self, starts, length):
        """A batch: windows at `starts`, each `length` tokens, stacked ((B, length) ids,
        (B, levels, length) unit_of, (B, length) offsets, B texts)."""
        ws = [self.window(int(s), length) for s in starts]
        return {
            "ids": _np.stack([w["ids"] for w in ws]),
            "seq": {
                "unit_of": _np.stack([w["seq"]["unit_of"] for w in ws]),
                "text": [w["seq"]["text"] for w in ws],
                "offsets": _np.stack([w["seq"]["offsets"] for w in ws]),
            },
        }


def render(corruption, text, offsets, masked, types):
    """A corrupted text as `pyramask mask preview` prints it (without colour): clean tokens
    as their bytes, each run of masked tokens of one type as [name] or [name*n], and a
    final newline unless the text ended with one. Returns bytes."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    names = corruption.type_names
    n = len(masked)
    ends = list(offsets[1:]) + [len(text)]
    out, i, newline = [], 0, True
    while i < n:
        if not masked[i]:
            piece = text[offsets[i]:ends[i]]
            out.append(piece)
            newline = piece.endswith(b"\n")
            i += 1
            continue
        j = i
        while j < n and masked[j] and types[j] == types[i]:
            j += 1
        name = names[types[i] if types[i] >= 0 else 0]
        out.append(f"[{name}*{j - i}]".encode() if j - i > 1 else f"[{name}]".encode())
        newline = False
        i = j
    if not newline:
        out.append(b"\n")
    return b"".join(out)
