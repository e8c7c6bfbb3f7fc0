"""Cosine k-nearest neighbours of feature frames in a matching set (kNN voice conversion), computed
as the official DyCAST / FocalCodec code does."""

from __future__ import annotations

import torch


def cosine_distance(query: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``1 - cos`` via the cdist identity, as the reference computes it: ``[..., N, M]``."""
    q_sq = query.pow(2).sum(dim=-1, keepdim=True)
    t_sq = targets.pow(2).sum(dim=-1)
    dot = (q_sq + t_sq - torch.cdist(query, targets).pow(2)) / 2
    return 1 - dot * torch.rsqrt(q_sq * t_sq)


def knn(input: torch.Tensor, matching_set: torch.Tensor, topk: int = 4, num_splits: int = 1) -> torch.Tensor:
    """The ``topk`` nearest rows of ``matching_set [M, D]`` per frame of ``input [..., N, D]``,
    in ascending distance: ``[..., N, topk, D]``. ``num_splits`` bounds memory for large sets."""
    topk = min(topk, matching_set.shape[0])  # a larger k returns every row, sorted
    matching_set = matching_set.to(input.device, input.dtype)
    size = matching_set.shape[0] // max(num_splits, 1)
    chunks = [matching_set[i:i + size] for i in range(0, matching_set.shape[0], size)] if num_splits > 1 \
        else [matching_set]
    best_d, best_i = [], []
    offset = 0
    for chunk in chunks:
        dist = cosine_distance(input, chunk)
        k = min(topk, chunk.shape[0])
        d, i = dist.topk(k, dim=-1, largest=False)
        best_d.append(d)
        best_i.append(i + offset)
        offset += chunk.shape[0]
    dist, idx = torch.cat(best_d, dim=-1), torch.cat(best_i, dim=-1)
    if len(chunks) > 1:
        d, j = dist.topk(topk, dim=-1, largest=False)
        idx = torch.gather(idx, -1, j)
    return matching_set[idx]
