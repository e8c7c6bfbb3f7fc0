"""The FlexiCodec codec plugin: ``flexicodec-12.5hz`` / ``-8.3hz`` / ``-6.25hz`` are one model at the merging
thresholds the official README gives for those average rates (1.0: no merging; 0.91; 0.86), RVQ1:8 by default.

Tokens: K = ``num_quantizers`` parallel streams per token (the FSQ semantic code, 32,768 values, then K - 1
acoustic RVQ codes of 4,096), one token per group of 1-8 frames of the 12.5 Hz grid; ``durations`` carries each
token's frames and ``side_bits`` their Elias-gamma code (the rule DyCAST's durations are counted by: 1 bit for a
1-frame token, up to 7 for 8 frames). The paper counts one bit a token instead ("we have added frame_rate to
FlexiCodec's bitrate"); ``codecbench list`` and the README show both."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import torch
import torch.nn.functional as F

from codecbench.api import (
    Asset,
    Capabilities,
    Codec,
    NonNegativeFloat,
    Range,
    Tokens,
    elias_gamma_bits,
    length_groups,
    register_codec,
    weights_or_random,
)

from .._blocks.seeded import seed_parameters
from . import frontend
from .dac import VectorQuantize
from .model import FlexiCodec
from .presets import PRESETS, SENSEVOICE_SMALL
from .sensevoice import SenseVoiceSmall

VARIANTS: dict[str, dict[str, Any]] = {"flexicodec-12.5hz": {"threshold": 1.0}, "flexicodec-8.3hz": {"threshold": 0.91},
                                       "flexicodec-6.25hz": {"threshold": 0.86}}
CHECKPOINT, CONFIG = "12hz_v1_half.safetensors", "12hz_v1_half_config.yaml"


def _file(location: str, name: str) -> Path:
    path = Path(location)
    found = path / name if path.is_dir() else path
    if not found.is_file():
        raise FileNotFoundError(f"{found} not found (a folder holding {name}, or the file itself)")
    return found


def load_released(flexicodec: str, sensevoice: str) -> tuple[FlexiCodec, torch.Tensor]:
    """The released model from a folder with ``12hz_v1_half.safetensors`` + ``12hz_v1_half_config.yaml``
    (jiaqili3/flexicodec) and a SenseVoice-Small folder with ``model.pt`` + ``am.mvn`` (FunAudioLLM/SenseVoiceSmall):
    every key of the model loaded from one of them (checked), SenseVoice's ``model.pt`` read with ``weights_only``.
    Returns the model and the feature shift / scale (``am.mvn``)."""
    import yaml
    from safetensors.torch import load_file

    config = yaml.safe_load(_file(flexicodec, CONFIG).read_text())["model"]
    model = FlexiCodec.from_config(config, SENSEVOICE_SMALL)
    state = {k: v for k, v in load_file(str(_file(flexicodec, CHECKPOINT))).items() if k in model.state_dict()}
    voice = torch.load(_file(sensevoice, "model.pt"), map_location="cpu", weights_only=True)
    voice = voice.get("state_dict", voice) if isinstance(voice, dict) else voice
    own = model.semantic_model.state_dict()
    state.update({f"semantic_model.{k}": v for k, v in voice.items() if k in own})
    missing = sorted(set(model.state_dict()) - set(state))
    if missing:
        raise ValueError(f"FlexiCodec: {len(missing)} weights in neither checkpoint (first: {missing[:3]})")
    model.load_state_dict(state, strict=True)
    return model.eval(), frontend.load_cmvn(_file(sensevoice, "am.mvn"))


@register_codec(VARIANTS)
class FlexiCodecCodec(Codec):
    """Dynamic frame rate (groups of similar 12.5 Hz frames): FSQ semantic + RVQ acoustic tokens, 16 kHz."""

    families = {name: "flexicodec" for name in VARIANTS}  # merging thresholds: 12.5 / 8.3 / 6.25 Hz

    sample_rate = output_sample_rate = 16000
    nominal_frame_rate = None
    capabilities = Capabilities(multi_codebook=True, variable_rate=True)
    min_samples = 1280  # one frame of the 12.5 Hz grid
    assets = (Asset("flexicodec", f"FlexiCodec 12.5 Hz v1 ({CHECKPOINT} + {CONFIG})", "jiaqili3/flexicodec",
                    hub_id="jiaqili3/flexicodec", files=(CHECKPOINT, CONFIG)),
              Asset("sensevoice-small", "SenseVoice-Small (model.pt, am.mvn): FlexiCodec's semantic encoder",
                    "FunAudioLLM/SenseVoiceSmall", hub_id="FunAudioLLM/SenseVoiceSmall", files=("model.pt", "am.mvn")))
    test_params = {"random_preset": "tiny"}
    cmvn: torch.Tensor | None  # a buffer: SenseVoice's feature shift and scale (None with random weights)
    model: FlexiCodec

    def __init__(self, threshold: Annotated[float, Range(-1, 1)] = 1.0,
                 num_quantizers: Annotated[int, Range(1, 24)] = 8, checkpoint: str | None = None,
                 sensevoice: str | None = None, random_preset: str = "released",
                 dither: NonNegativeFloat = 0.0) -> None:
        super().__init__()
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold is a cosine similarity in [-1, 1], got {threshold}")
        if random_preset not in PRESETS:
            raise ValueError(f"random_preset must be one of {sorted(PRESETS)}, got {random_preset!r}")
        self.threshold, self.dither = float(threshold), float(dither)
        found = weights_or_random("flexicodec", checkpoint, owner="flexicodec")
        voice = weights_or_random("sensevoice-small", sensevoice, owner="flexicodec")
        if found.location is not None and voice.location is not None:  # both halves of the released model
            self.model, cmvn = load_released(found.location, voice.location)
            self.weights_id = f"{found.location}+{voice.location}"
        else:  # the real architecture, every parameter seeded from its name; no feature normalisation
            self.model, cmvn = FlexiCodec.from_config(*PRESETS[random_preset]).eval(), None
            seed_parameters(self.model, int(torch.initial_seed()) % 2**31)
            self.capabilities = dataclasses.replace(self.capabilities, random_weights=True)
            self.weights_id = f"random:flexicodec:{random_preset}:seed={torch.initial_seed()}"
        self.register_buffer("cmvn", cmvn, persistent=False)
        layers = len(self.model.dac.quantizer.quantizers) + 1
        if not 1 <= num_quantizers <= layers:
            raise ValueError(f"num_quantizers must be in [1, {layers}] (the semantic one and {layers - 1} acoustic)")
        self.num_quantizers = num_quantizers
        acoustic = self.model.dac.quantizer.quantizers[0]
        assert isinstance(acoustic, VectorQuantize)
        self.codebook_sizes = [self.model.semantic_vq.fsq.codebook_size] + [
            acoustic.codebook.num_embeddings] * (num_quantizers - 1)

    @classmethod
    def verify_asset(cls, name: str, location: Path) -> str:
        """``codecbench assets verify``: each half of the released model loaded as :func:`load_released` loads it, on
        the meta device: the codec's config and safetensors against the architecture the config builds (every key
        but SenseVoice's, shapes checked), or SenseVoice's ``model.pt`` against SenseVoice-Small and its
        ``am.mvn`` read."""
        from safetensors.torch import load_file

        from codecbench.api import load_yaml

        if name == "flexicodec":
            config = load_yaml(_file(str(location), CONFIG).read_text(encoding="utf-8"), CONFIG)
            if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
                raise ValueError(f"{CONFIG} has no 'model:' section")
            with torch.device("meta"):
                model = FlexiCodec.from_config(config["model"], SENSEVOICE_SMALL)
            own = {k for k in model.state_dict() if not k.startswith("semantic_model.")}
            state = {k: v for k, v in load_file(str(_file(str(location), CHECKPOINT))).items() if k in own}
            missing = sorted(own - set(state))
            if missing:
                raise ValueError(f"{len(missing)} weights of the architecture missing (first: {missing[:3]})")
            model.load_state_dict(state, strict=False)  # shapes checked
            return f"{len(state)} tensors fit the architecture {CONFIG} describes"
        if name == "sensevoice-small":
            with torch.device("meta"):
                voice_model = SenseVoiceSmall(**SENSEVOICE_SMALL)
            voice = torch.load(_file(str(location), "model.pt"), map_location="cpu", weights_only=True, mmap=True)
            voice = voice.get("state_dict", voice) if isinstance(voice, dict) else voice
            if not isinstance(voice, dict):
                raise ValueError("model.pt holds no state dict")
            expected = voice_model.state_dict()
            kept = {k: v for k, v in voice.items() if k in expected}
            missing = sorted(set(expected) - set(kept))
            if missing:
                raise ValueError(f"{len(missing)} SenseVoice weights missing (first: {missing[:3]})")
            voice_model.load_state_dict(kept, strict=True)
            cmvn = frontend.load_cmvn(_file(str(location), "am.mvn"))
            return f"{len(kept)} SenseVoice tensors fit; am.mvn {tuple(cmvn.shape)}"
        return ""

    # ---- contract ------------------------------------------------------------------------------------------------
    def encode(self, wav: torch.Tensor, lengths: torch.Tensor) -> Tokens:
        """Equal-length groups run unpadded (an item's tokens never depend on its batch)."""
        device = next(self.model.parameters()).device
        items: list[Tokens | None] = [None] * wav.shape[0]
        for group in length_groups(lengths):
            n = int(lengths[group[0]])
            audio = wav[group, :n].float()
            generator = torch.Generator().manual_seed(0) if self.dither else None
            feats = torch.stack([frontend.features(a.cpu(), None if self.cmvn is None else self.cmvn.cpu(),
                                                   self.dither, generator) for a in audio])
            encoded = self.model.encode(audio.to(device), feats.to(device), self.threshold, self.num_quantizers)
            codes = torch.cat([encoded.semantic, encoded.acoustic], dim=1).transpose(1, 2).long().cpu()  # [G, N, K]
            for j, i in enumerate(group):
                count = int(encoded.groups[j])
                durations = encoded.lengths[j:j + 1, :count].cpu()
                items[i] = Tokens(codes=codes[j:j + 1, :count], lengths=torch.tensor([count]),
                                  num_samples=torch.tensor([n]), durations=durations,
                                  side_bits=elias_gamma_bits(durations).sum(dim=1))
        return Tokens.collate([t for t in items if t is not None])

    def decode(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor]:
        """Item by item (token lengths differ); each output is cut or padded to the input's length. Tokens without
        durations (generated ones) are spread evenly over the length budget."""
        device = next(self.model.parameters()).device
        outputs = []
        for i in range(tokens.codes.shape[0]):
            count, budget = int(tokens.lengths[i]), int(tokens.num_samples[i])
            codes = tokens.codes[i:i + 1, :count].to(device)
            if tokens.durations is not None:
                durations = tokens.durations[i:i + 1, :count].to(device)
            else:
                frames = max(-(-budget // self.model.dac.hop_length), count)
                durations = torch.full((1, count), frames // count, device=device)
                durations[0, : frames % count] += 1
            wav = self.model.decode(codes[..., :1].transpose(1, 2), codes[..., 1:].transpose(1, 2), durations)[0, 0]
            wav = wav[:budget] if wav.shape[0] >= budget else F.pad(wav[None, None], (0, budget - wav.shape[0]),
                                                                     mode="replicate")[0, 0]
            outputs.append(wav.float().cpu())
        return torch.nn.utils.rnn.pad_sequence(outputs, batch_first=True), tokens.num_samples.clone()

    def counted_modules(self) -> list[torch.nn.Module]:
        """The codec without SenseVoice-Small (its frozen semantic encoder, released on its own)."""
        return [m for name, m in self.model.named_children() if name != "semantic_model"]

    cache_id_complete = True  # cache_id names the weights and every setting the tokens depend on

    def cache_id(self) -> str:
        return (f"flexicodec:{self.weights_id}:t={self.threshold}:q={self.num_quantizers}:dither={self.dither}:"
                f"{len(self.model.dac.quantizer.quantizers)}")
