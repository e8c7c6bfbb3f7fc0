"""Voice-conversion samples (DyCAST paper, appendix D.2): source, parallel target, target reference.

For every source speaker and every parallel group it reads, a target speaker who reads the same
sentence is chosen (``next``: the next such speaker in sorted order, as the authors' harness;
``random``: seeded choice). The Sim reference is the target's parallel utterance; the kNN /
codebook reference is the target's longest *other* utterance. Same inputs and seed -> same list.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Sequence

from bench.datasets import Utterance


@dataclass(frozen=True)
class VCSample:
    source: Utterance
    target_parallel: Utterance  # same sentence, target speaker: the Sim reference
    reference: Utterance  # another utterance of the target speaker: the conversion reference

    @property
    def sample_id(self) -> str:
        return f"{self.source.utt_id}->{self.target_parallel.speaker}"


def select_vc_samples(utterances: Sequence[Utterance], duration: Callable[[Utterance], float],
                      target: str = "next", seed: int = 0) -> list[VCSample]:
    """All VC samples of a manifest with speakers and parallel groups."""
    if target not in ("next", "random"):
        raise ValueError(f"target must be 'next' or 'random', got {target!r}")
    by_speaker: dict[str, list[Utterance]] = {}
    for utt in utterances:
        if utt.speaker:
            by_speaker.setdefault(utt.speaker, []).append(utt)
    groups: dict[str, dict[str, Utterance]] = {}
    for utt in utterances:
        if utt.speaker and utt.parallel_group:
            groups.setdefault(utt.parallel_group, {}).setdefault(utt.speaker, utt)
    speakers = sorted(by_speaker)
    rng = random.Random(seed)
    samples = []
    for source_speaker in speakers:
        for utt in sorted(by_speaker[source_speaker], key=lambda u: u.utt_id):
            if not utt.parallel_group:
                continue
            readers = groups[utt.parallel_group]
            candidates = [s for s in speakers if s != source_speaker and s in readers]
            if not candidates:
                continue
            if target == "next":
                later = [s for s in candidates if s > source_speaker]
                chosen = later[0] if later else candidates[0]
            else:
                chosen = rng.choice(candidates)
            parallel = readers[chosen]
            others = [u for u in by_speaker[chosen] if u.utt_id != parallel.utt_id
                      and u.parallel_group != utt.parallel_group]
            if not others:
                continue
            reference = max(others, key=lambda u: (duration(u), u.utt_id))
            samples.append(VCSample(utt, parallel, reference))
    return samples
