"""The inference fast paths of the shared blocks (channels-last WavLM convolutions, the 1x1 context
convolution as a matrix product, in-place GELU) give the plain path's numbers."""

from __future__ import annotations

import torch

from codecbench.codecs._blocks.focal import FocalBlock
from codecbench.codecs._blocks.vocos import Vocos
from codecbench.codecs._blocks.wavlm import WavLM


def _both(module: torch.nn.Module, *args: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    module.eval()
    with torch.inference_mode():
        fast = module(*args)
    with torch.enable_grad():  # autograd on: the out-of-place path
        plain = module(*args)
    return _first(fast), _first(plain).detach()


def _first(out: torch.Tensor | tuple) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


def test_wavlm_channels_last_convolutions_match_the_plain_layers() -> None:
    torch.manual_seed(0)
    model = WavLM(hidden_dims=(32,) * 7, num_layers=2, dim=64, ffn_dim=128, num_heads=4, conv_pos=16,
                  conv_pos_groups=4).eval()
    sig = 0.1 * torch.randn(2, 8000)
    with torch.inference_mode():
        fast, _ = model.feature_extractor(sig)
        x = sig.unsqueeze(1)
        for layer in model.feature_extractor.layers:
            x, _ = layer(x)  # the [B, C, T] path
    assert fast.shape == x.transpose(1, 2).shape and fast.is_contiguous()
    assert torch.allclose(fast, x.transpose(1, 2), atol=1e-5)
    fast_out, plain_out = _both(model, sig)
    assert torch.allclose(fast_out, plain_out, atol=1e-5)


def test_focal_block_and_vocos_inference_paths_match_autograd_paths() -> None:
    torch.manual_seed(0)
    block = FocalBlock(64, 128)
    x = torch.randn(2, 50, 64)
    fast, plain = _both(block, x)
    assert torch.allclose(fast, plain, atol=1e-6)
    vocos = Vocos(input_dim=64, num_layers=2, dim=32, ffn_dim=64, n_fft=64, hop_length=16)
    fast, plain = _both(vocos, x)
    assert torch.allclose(fast, plain, atol=1e-6)
