"""Voice-conversion samples (DyCAST paper, appendix D.2): source, parallel target, target reference.

The authors' rule (lucadellalib/audiocodecs ``downstream/datasets/vctk.py``, ``prepare_data``, the
"Build parallel data in a deterministic way" loop), ``pairing="consecutive"`` (default): for every parallel
group, the speakers that read it, in sorted order, are paired consecutively, ``i -> i + 1``, with no
wrap-around (the last speaker of a group is never a source). A pair's conversion reference is the
longest of the target's *other* parallel utterances (``spk_wavs``: the target's files of the parallel
list with another utterance number; ``test_vc.py``, ``vocode``: the first strictly longest), and the
target's parallel utterance is what the metrics compare with.

Kept as options, not the paper's: ``pairing="next"`` (every speaker is a source, paired with the next
reader in sorted order, wrapping around: this harness before the authors' code was read), ``"random"``
(a seeded choice among the readers); ``reference_pool="all"`` (any other utterance of the target, parallel
or not). Same inputs and seed -> same list.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Literal, Sequence, get_args

from codecbench.api import ItemId, Utterance

Pairing = Literal["consecutive", "next", "random"]
ReferencePool = Literal["parallel", "all"]
PAIRINGS: tuple[str, ...] = get_args(Pairing)
REFERENCE_POOLS: tuple[str, ...] = get_args(ReferencePool)


@dataclass(frozen=True)
class VCSample:
    source: Utterance
    target_parallel: Utterance  # same sentence, target speaker: what the metrics compare with
    reference: Utterance  # another utterance of the target speaker: the conversion reference

    @property
    def sample_id(self) -> ItemId:
        return ItemId(self.source.utt_id, target=self.target_parallel.speaker)


def _pairs(readers: list[str], pairing: str, rng: random.Random) -> list[tuple[str, str]]:
    """(source, target) speakers of one parallel group; ``readers`` sorted."""
    if pairing == "consecutive":
        return list(zip(readers, readers[1:], strict=False))
    pairs = []
    for source in readers:
        candidates = [s for s in readers if s != source]
        if not candidates:
            continue
        if pairing == "next":
            later = [s for s in candidates if s > source]
            pairs.append((source, later[0] if later else candidates[0]))
        else:
            pairs.append((source, rng.choice(candidates)))
    return pairs


def select_vc_samples(utterances: Sequence[Utterance], duration: Callable[[Utterance], float],
                      pairing: str = "consecutive", reference_pool: str = "parallel",
                      seed: int = 0) -> list[VCSample]:
    """All VC samples of a manifest with speakers and parallel groups, in (group, source) order."""
    if pairing not in PAIRINGS:
        raise ValueError(f"vc pairing must be one of {PAIRINGS}, got {pairing!r}")
    if reference_pool not in REFERENCE_POOLS:
        raise ValueError(f"vc reference_pool must be one of {REFERENCE_POOLS}, got {reference_pool!r}")
    by_speaker: dict[str, list[Utterance]] = {}
    groups: dict[str, dict[str, Utterance]] = {}
    for utt in sorted(utterances, key=lambda u: (str(u.path), u.utt_id)):
        if not utt.speaker:
            continue
        by_speaker.setdefault(utt.speaker, []).append(utt)
        if utt.parallel_group:
            groups.setdefault(utt.parallel_group, {}).setdefault(utt.speaker, utt)
    rng = random.Random(seed)
    samples = []
    for group in sorted(groups):
        readers = groups[group]
        for source, target in _pairs(sorted(readers), pairing, rng):
            parallel = readers[target]
            others = [u for u in by_speaker[target] if u.utt_id != parallel.utt_id and u.parallel_group != group
                      and (reference_pool == "all" or u.parallel_group)]
            if not others:
                continue
            reference = max(others, key=duration)  # the first of the longest, in file order
            samples.append(VCSample(readers[source], parallel, reference))
    return samples
