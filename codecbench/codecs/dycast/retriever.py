"""LatentIVF: retrieval-augmented decoding over a FAISS IVF pool of unit-norm latents."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .._blocks.focal import FocalDecoder, FocalEncoder


def import_faiss() -> Any:
    try:
        import faiss
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            "retrieval-augmented decoding needs FAISS: pip install 'codecbench[dycast]' "
            "(faiss-cpu; faiss-gpu works too)"
        ) from err
    return faiss


class LatentIVF(nn.Module):
    """Replace decoded frames by their nearest pool latent when cosine >= ``sim_threshold``."""

    def __init__(self, input_dim: int = 1024, latent_dim: int = 32, hidden_dims: Sequence[int] = (1024, 1024, 1024),
                 downscale_factors: Sequence[int] = (1, 1, 1), focal_window: int = 14, focal_level: int = 2,
                 focal_factor: int = 4, dropout: float = 0.0, use_post_norm: bool = False,
                 use_layerscale: bool = False, layerscale_init: float = 1e-4, tanhscale_init: float = 0.5,
                 normalize_modulator: bool = False, causal: bool = False, window_size: int = 512,
                 nlist: int = 4096, nprobe: int = 16) -> None:
        super().__init__()
        self.input_dim, self.latent_dim = input_dim, latent_dim
        self.hidden_dims, self.downscale_factors = list(hidden_dims), list(downscale_factors)
        self.focal_window, self.focal_level, self.focal_factor = focal_window, focal_level, focal_factor
        self.dropout = dropout
        self.use_post_norm, self.use_layerscale, self.layerscale_init = use_post_norm, use_layerscale, layerscale_init
        self.tanhscale_init, self.normalize_modulator = tanhscale_init, normalize_modulator
        self.causal, self.window_size, self.nlist, self.nprobe = causal, window_size, nlist, nprobe
        common = (focal_window, focal_level, focal_factor, dropout, use_post_norm, use_layerscale,
                  layerscale_init, tanhscale_init, normalize_modulator, causal, window_size)
        self.compressor = FocalEncoder(input_dim, latent_dim, hidden_dims, downscale_factors, *common)
        self.decompressor = FocalDecoder(latent_dim, input_dim, list(reversed(self.hidden_dims)),
                                         list(reversed(self.downscale_factors)), *common)
        self.index: Any = None

    def encode(self, feats: torch.Tensor) -> torch.Tensor:
        """Unit-norm retrieval latents ``[B, T, latent_dim]`` of continuous features."""
        return F.normalize(self.compressor(feats)[0], dim=-1)

    def new_index(self) -> Any:
        faiss = import_faiss()
        quantizer = faiss.IndexFlatIP(self.latent_dim)
        return faiss.IndexIVFFlat(quantizer, self.latent_dim, self.nlist, faiss.METRIC_INNER_PRODUCT)

    def set_index(self, index: Any) -> None:
        faiss = import_faiss()
        ivf = faiss.extract_index_ivf(index)
        if ivf is None:
            raise RuntimeError("retriever index must be an IVF index")
        ivf.make_direct_map()
        ivf.nprobe = self.nprobe
        self.index = index

    def load_index(self, path: str | Path) -> None:
        self.set_index(import_faiss().read_index(str(path)))

    def save_index(self, path: str | Path) -> None:
        if self.index is None:
            raise RuntimeError("no index to save")
        import_faiss().write_index(self.index, str(path))

    @torch.no_grad()
    def forward(self, qfeats: torch.Tensor, compressor_state: Sequence = (), decompressor_state: Sequence = (),
                sim_threshold: float = 0.97, blend: float = 1.0) -> tuple[torch.Tensor, list, list]:
        if self.index is None or not self.index.is_trained or self.index.ntotal == 0:
            raise RuntimeError("retriever has no trained, filled index: load_index() or build one first")
        lat = self.encode(qfeats)
        batch, frames, dim = lat.shape
        flat = lat.reshape(-1, dim).float().cpu().numpy()
        sims, ids = self.index.search(np.ascontiguousarray(flat), 1)
        if (ids < 0).any():
            raise RuntimeError("retriever search found no candidate for some frames (empty probed lists)")
        rec = self.index.reconstruct_batch(ids[:, 0].astype(np.int64))
        rec_t = F.normalize(torch.from_numpy(rec).to(lat.device, lat.dtype), dim=-1).reshape(batch, frames, dim)
        keep = (torch.from_numpy(sims[:, 0]).to(lat.device, qfeats.dtype) >= sim_threshold).reshape(batch, frames)
        replaced = torch.where(keep[..., None], rec_t, lat)
        decoded = self.decompressor(replaced)[0]
        out = torch.where(keep[..., None], (1 - blend) * qfeats + blend * decoded, qfeats)
        return out, [], []
