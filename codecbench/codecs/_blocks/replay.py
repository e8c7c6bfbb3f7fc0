"""Replaying a baseline parity folder (``scripts/baseline_record_fixtures.py``) through a codec of this harness:
per recorded clip the encoder's latent, the tokens (exact) and the decoded audio, through ``encoder_features``,
``encode`` and ``decode`` as a run calls them; then the decoding of the recorded random tokens (every part of the
codebook, which seeded-weight encoders rarely reach)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from codecbench.api import Check, Codec, Tokens, compare_tensors


@torch.no_grad()
def replay_cases(codec: Codec, ref: dict[str, torch.Tensor], hop: int,
                 latent: Callable[[torch.Tensor], torch.Tensor] | None = None) -> list[Check]:
    """The checks of every ``case*`` and ``random`` entry of ``ref`` (``hop``: input samples per frame; ``latent``:
    the encoder's ``[N, D]`` output of a waveform, by default :meth:`Codec.encoder_features`)."""
    checks = []
    for case in sorted({k.split(".")[0] for k in ref if k.startswith("case")}):
        audio = ref[f"{case}.audio"]
        lengths = torch.tensor([len(audio)])
        if f"{case}.latent" in ref:
            got = latent(audio) if latent is not None else codec.encoder_features(audio[None], lengths)[0]
            checks.append(compare_tensors("cases", f"{case}.latent", got, ref[f"{case}.latent"]))
        tokens = codec.encode(audio[None], lengths)
        got = tokens.codes[0, : int(tokens.lengths[0])]
        checks.append(compare_tensors("cases", f"{case}.codes", got, ref[f"{case}.codes"]))
        wav, out = codec.decode(tokens)
        checks.append(compare_tensors("cases", f"{case}.sig", wav[0, : int(out[0])], ref[f"{case}.sig"]))
    if "random.codes" in ref:
        codes = ref["random.codes"].long()
        tokens = Tokens(codes=codes[None], lengths=torch.tensor([len(codes)]),
                        num_samples=torch.tensor([len(codes) * hop]))
        wav, out = codec.decode(tokens)
        checks.append(compare_tensors("cases", "random.sig", wav[0, : int(out[0])], ref["random.sig"]))
    return checks
