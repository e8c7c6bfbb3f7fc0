"""Replay a FocalCodec parity fixture folder (made by the official code) and compare every output.

The folder holds a main model (``config.json``, ``model.safetensors``, ``b1_stages``,
``batch3``, ``units``) and sub-folders with their own model and ``outputs.safetensors``
(``variant_*``) or a legacy checkpoint with ``v001_outputs.safetensors`` (``legacy_*``).
Stage outputs are recognised by their key names, so any folder made the same way replays.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from codecbench.api import Check, compare_tensors, cosine_distance, knn, register_parity

from .bsq import BinarySphericalQuantizer
from .model import FocalCodec

PREFIXES = ("sig", "speech", "sig_pad", "speech_pad")


class Replayer:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.inputs = load_file(self.folder / "inputs.safetensors")
        self.checks: list[Check] = []

    def _load_model(self, folder: Path, label: str) -> FocalCodec | None:
        try:
            return FocalCodec.from_config(folder / "config.json", pretrained=True).eval()
        except NotImplementedError as err:
            self.checks.append(Check(label, "*", "float", float("inf"), 0.0, f"not implemented: {err}"))
            return None

    def _input(self, prefix: str) -> torch.Tensor:
        if prefix in self.inputs:
            return self.inputs[prefix]
        base = self.inputs[prefix.removesuffix("_pad")]
        return torch.nn.functional.pad(base, (0, -base.shape[-1] % 1280))

    def stages(self, model: FocalCodec, file: str, ref: dict[str, torch.Tensor], prefix: str) -> None:
        """Every ``<prefix>.*`` output of the stage methods, by key name."""
        x = self._input(prefix)
        keys = {k.split(".", 1)[1] for k in ref if k.startswith(prefix + ".")}
        feats = model.sig_to_feats(x)
        lats = model.feats_to_lats(feats)
        toks, codes = model.lats_to_toks(lats), model.lats_to_codes(lats)
        qfeats = model.codes_to_qfeats(codes)
        values = {"feats": lambda: feats, "lats": lambda: lats, "toks": lambda: toks, "codes": lambda: codes,
                  "qfeats": lambda: qfeats, "rec_feats": lambda: model.feats_to_sig(feats),
                  "rec_qfeats": lambda: model.feats_to_sig(qfeats)}
        forward = {}
        if keys & {"fwd_toks", "fwd_codes", "fwd_rec"}:
            forward = dict(zip(("fwd_toks", "fwd_codes", "fwd_rec"), model(x), strict=True))
        matching = ref.get("matching_set")
        for key in sorted(keys):
            if key in values:
                got = values[key]()
            elif key in forward:
                got = forward[key]
            elif key.startswith("stream_"):
                got = self.streamed(model, x, toks, key)
            elif key.startswith("rec_toks_len"):
                got = model.toks_to_sig(toks, output_length=int(key.removeprefix("rec_toks_len")))
            elif key.startswith("knn_topk") and matching is not None:
                got = model.knn(qfeats, matching, topk=int(key.removeprefix("knn_topk")), num_splits=1)
            elif key.startswith("vc_rec_topk") and matching is not None:
                spec = key.removeprefix("vc_rec_topk")
                topk, _, split = spec.partition("_split")
                got = model.toks_to_sig(toks, matching_set=matching, topk=int(topk), num_splits=int(split or 1))
            else:
                self.checks.append(Check(file, f"{prefix}.{key}", "int", float("inf"), 0, "no replay rule"))
                continue
            self.checks.append(compare_tensors(file, f"{prefix}.{key}", got, ref[f"{prefix}.{key}"]))

    @staticmethod
    def streamed(model: FocalCodec, x: torch.Tensor, toks: torch.Tensor, key: str) -> torch.Tensor:
        """Chunk-by-chunk calls with the returned state fed back, outputs concatenated in time."""
        if key.startswith("stream_dec"):
            step = 1 if key == "stream_dec1_rec" else model.decompressor.chunk_size
            state: list = []
            recs = []
            for i in range(0, toks.shape[1], step):
                decompressor_state, decoder_state = state if state else ((), ())
                rec, *state = model.toks_to_sig(toks[:, i:i + step], decompressor_state, decoder_state,
                                                return_state=True)
                recs.append(rec)
            return torch.cat(recs, dim=-1)
        outputs: list[list[torch.Tensor]] = [[], [], []]
        state = []
        for i in range(0, x.shape[-1], model.chunk_size):
            toks_i, codes_i, rec_i, *state = model(x[:, i:i + model.chunk_size], *state, return_state=True)
            for store, value in zip(outputs, (toks_i, codes_i, rec_i), strict=True):
                store.append(value)
        index = {"stream_toks": 0, "stream_codes": 1, "stream_rec": 2}[key]
        return torch.cat(outputs[index], dim=1 if index < 2 else -1)

    def batch(self, model: FocalCodec, file: str, ref: dict[str, torch.Tensor]) -> None:
        sig, length = self.inputs["sig_batch"], self.inputs["length_batch"]
        toks, codes, rec = model(sig, length=length)
        got = {"toks": toks, "codes": codes, "rec": rec}
        if "batch3.feats" in ref:
            feats = model.sig_to_feats(sig, length=length)
            got |= {"feats": feats, "feats_nolength": model.sig_to_feats(sig), "lats": model.feats_to_lats(feats),
                    "qfeats": model.codes_to_qfeats(codes)}
            singles = {"speech": "speech", "sig2": "sig2_unpadded", "sig3": "sig3_unpadded"}
            for name, key in singles.items():
                single = self.inputs[key]
                got[f"single_{name}_feats"] = model.sig_to_feats(single)
                got[f"single_{name}_toks"] = model.sig_to_toks(single)
        for key, value in got.items():
            if f"batch3.{key}" in ref:
                self.checks.append(compare_tensors(file, f"batch3.{key}", value, ref[f"batch3.{key}"]))

    def units(self, file: str) -> None:
        ref = load_file(self.folder / file)
        for prefix in sorted({k.split(".")[0] for k in ref if k.startswith("bsq")}):
            q = BinarySphericalQuantizer(int(prefix.removeprefix("bsq")))
            lats = ref[f"{prefix}.lats"]
            self.checks.append(compare_tensors(file, f"{prefix}.toks", q.lats_to_toks(lats), ref[f"{prefix}.toks"]))
            self.checks.append(compare_tensors(file, f"{prefix}.codes", q.lats_to_codes(lats), ref[f"{prefix}.codes"]))
            self.checks.append(compare_tensors(file, f"{prefix}.rand_toks_codes",
                                               q.toks_to_codes(ref[f"{prefix}.rand_toks"]),
                                               ref[f"{prefix}.rand_toks_codes"]))
            roundtrip = q.codes_to_toks(q.codebook)
            self.checks.append(compare_tensors(file, f"{prefix}.codebook_roundtrip", roundtrip,
                                               torch.arange(q.codebook_size)))
        if "knn.query" in ref:
            query, ms = ref["knn.query"], ref["knn.matching_set"]
            flat = query.reshape(-1, query.shape[-1])
            self.checks.append(compare_tensors(file, "knn.cosine_dist", cosine_distance(flat, ms),
                                               ref["knn.cosine_dist"]))
            for key in sorted(k for k in ref if k.startswith("knn.topk")):
                topk, _, splits = key.removeprefix("knn.topk").partition("_splits")
                self.checks.append(compare_tensors(file, key, knn(query, ms, int(topk), int(splits)), ref[key]))

    def model_folder(self, folder: Path, outputs: str, label: str) -> None:
        model = self._load_model(folder, label)
        if model is None:
            return
        ref = load_file(folder / outputs)
        file = f"{label}/{outputs}" if label else outputs
        for prefix in PREFIXES:
            if any(k.startswith(prefix + ".") for k in ref):
                self.stages(model, file, ref, prefix)
        if any(k.startswith("batch3.") for k in ref):
            self.batch(model, file, ref)

    def legacy(self, folder: Path, label: str) -> None:
        """A v0.0.1 checkpoint must load (remapped, strictly) and reproduce the main model's outputs."""
        model = self._load_model(folder, label)
        if model is None:
            return
        main = load_file(self.folder / "b1_stages.safetensors")
        main_keys = {"feats", "lats", "toks", "codes", "qfeats", "rec_qfeats", "fwd_toks", "fwd_rec"}
        self.stages(model, f"{label}/=b1_stages", {k: v for k, v in main.items()
                                                   if k.split(".", 1)[-1] in main_keys}, "speech")
        v001 = folder / "v001_outputs.safetensors"
        if v001.is_file():
            ref = load_file(v001)
            for prefix in ("sig", "speech"):
                x = self.inputs[prefix]
                toks = model.sig_to_toks(x)
                self.checks.append(compare_tensors(f"{label}/v001_outputs", f"{prefix}.feats", model.sig_to_feats(x),
                                                   ref[f"{prefix}.feats"]))
                self.checks.append(compare_tensors(f"{label}/v001_outputs", f"{prefix}.toks",
                                                   toks, ref[f"{prefix}.toks"]))
                self.checks.append(compare_tensors(f"{label}/v001_outputs", f"{prefix}.rec_toks",
                                                   model.toks_to_sig(toks), ref[f"{prefix}.rec_toks"]))

    def run(self) -> list[Check]:
        with torch.no_grad():
            self.model_folder(self.folder, "b1_stages.safetensors", "")
            main = self._load_model(self.folder, "")
            if main is not None and (self.folder / "batch3.safetensors").is_file():
                self.batch(main, "batch3.safetensors", load_file(self.folder / "batch3.safetensors"))
            if (self.folder / "units.safetensors").is_file():
                self.units("units.safetensors")
            for sub in sorted(p for p in self.folder.iterdir() if (p / "config.json").is_file()):
                if (sub / "outputs.safetensors").is_file():
                    self.model_folder(sub, "outputs.safetensors", sub.name)
                else:
                    self.legacy(sub, sub.name)
        return self.checks


@register_parity("focalcodec")
def check_folder(folder: str | Path) -> list[Check]:
    """Replay every recorded call of a FocalCodec fixture folder and its model sub-folders."""
    return Replayer(folder).run()
