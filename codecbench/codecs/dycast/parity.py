"""Replay a DyCAST parity fixture folder (made by the official code) and compare every output.

A folder holds ``config.json``, ``model.safetensors`` (+ ``index.faiss``), ``inputs.safetensors``,
``manifest.json`` listing the output files, and ``modes.json`` with the forward kwargs and
seeds. Each known output file has a replayer below; floats must agree within 1e-4
(waveforms 1e-5), integer tensors exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load_file

from codecbench.api import Check, compare_tensors, register_parity

from .aligner import MMS, ctc_durations
from .boundary import boundaries_to_durations
from .duration import exact_sum_rounding, renormalize_mu_to_budget
from .model import DyCAST
from .pooling import RepeatInterleaveUnpool, SelectLastPool
from .quantizer import ScalarSphericalQuantizer


class _StubAligner(MMS):
    """An MMS whose acoustic model is replaced by recorded CTC logits (the fixture's stub)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self._logits = logits

    def forward_sig(self, sig: torch.Tensor, length: torch.Tensor | None = None) -> torch.Tensor:
        return self._logits.to(sig.device)


class Replayer:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.model = DyCAST.from_config(self.folder / "config.json", pretrained=False)
        self.model.load_checked_state_dict(load_file(self.folder / "model.safetensors"))
        if self.model.retriever is not None and (self.folder / "index.faiss").is_file():
            self.model.retriever.load_index(self.folder / "index.faiss")
        self.model.eval()
        self.inputs = load_file(self.folder / "inputs.safetensors")
        self.checks: list[Check] = []

    def _load(self, name: str) -> dict[str, torch.Tensor]:
        return load_file(self.folder / name)

    def _cmp(self, file: str, key: str, got: Any, refs: dict[str, torch.Tensor]) -> None:
        self.checks.append(compare_tensors(file, key, got, refs[key]))

    # ---- b1_stages: public methods one by one ---------------------------------------------------
    def b1_stages(self, file: str) -> None:
        m, ref = self.model, self._load(file)
        feats = m.sig_to_feats(self.inputs["sig"])
        self._cmp(file, "feats", feats, ref)
        self._cmp(file, "hazard_logits", m.boundary_predictor(feats)[0], ref)
        durs = m.feats_to_durs(feats)
        self._cmp(file, "durs_enc", durs, ref)
        lats = m.feats_to_lats(feats)
        self._cmp(file, "lats", lats, ref)
        plats, _ = m.lats_to_plats(lats, durs)
        self._cmp(file, "plats", plats, ref)
        self._cmp(file, "toks", m.plats_to_toks(plats), ref)
        pcodes = m.plats_to_pcodes(plats)
        self._cmp(file, "pcodes", pcodes, ref)
        self._cmp(file, "mu_free", m.duration_predictor(pcodes)[0], ref)
        frames = torch.tensor([feats.shape[1]])
        named = {"orig": durs, "free": m.pcodes_to_durs(pcodes), "budget": m.pcodes_to_durs(pcodes, num_frames=frames)}
        self._cmp(file, "durs_dec_free", named["free"], ref)
        self._cmp(file, "durs_dec_budget", named["budget"], ref)
        for tag, d in named.items():
            codes, _ = m.pcodes_to_codes(pcodes, d)
            qfeats = m.codes_to_qfeats(codes)
            self._cmp(file, f"codes_{tag}", codes, ref)
            self._cmp(file, f"qfeats_{tag}", qfeats, ref)
            self._cmp(file, f"rec_sig_{tag}", m.feats_to_sig(qfeats), ref)
        self._cmp(file, "alpha", m.duration_predictor.alpha().reshape(1), ref)
        self._cmp(file, "codebook", m.codebook, ref)

    # ---- modes: full forward calls ------------------------------------------------------------
    def _forward_kwargs(self, raw: dict[str, Any]) -> dict[str, Any]:
        kwargs = json.loads(json.dumps(raw))
        if "matching_set" in kwargs:
            kwargs["matching_set"] = self._load("retriever.safetensors")["matching_set"]
        dur = kwargs.get("duration_predictor_kwargs")
        if dur and "num_frames" in dur:
            dur["num_frames"] = torch.tensor(dur["num_frames"], dtype=torch.long)
        return kwargs

    def modes(self, file: str) -> None:
        ref = self._load(file)
        spec = json.loads((self.folder / "modes.json").read_text())
        stub = self.folder / "char_aligner_stub.safetensors"
        for tag, entry in spec.items():
            kwargs = self._forward_kwargs(entry["forward_kwargs"])
            if kwargs.get("boundary_source") == "char_aligner":
                if not stub.is_file():
                    self.checks.append(Check(file, f"{tag}.*", "int", float("inf"), 0, "no char_aligner_stub"))
                    continue
                self.model.char_aligner = _StubAligner(load_file(stub)["ctc_logits"])
            seed = entry.get("torch_manual_seed_before_call")
            if seed is not None:
                torch.manual_seed(seed)
            toks, pcodes, rec = self.model(self.inputs["sig"], **kwargs)
            for key, value in (("toks", toks), ("pcodes", pcodes), ("rec_sig", rec)):
                self._cmp(file, f"{tag}.{key}", value, ref)
            self._durations(file, tag, kwargs, seed, ref)
            self.model.char_aligner = None

    def _durations(self, file: str, tag: str, kwargs: dict[str, Any], seed: int | None,
                   ref: dict[str, torch.Tensor]) -> None:
        """Recompute encoder/decoder durations through the public methods with the same RNG use."""
        m, sig = self.model, self.inputs["sig"]
        if seed is not None:
            torch.manual_seed(seed)
        feats = m.sig_to_feats(sig)
        if kwargs.get("boundary_source") == "char_aligner":
            durs_enc = m.sig_to_durs(sig)
        else:
            durs_enc = m.feats_to_durs(feats, sample=kwargs.get("boundary_source") == "boundary_sample",
                                       **kwargs.get("boundary_predictor_kwargs", {}))
        self._cmp(file, f"{tag}.durs_enc", durs_enc, ref)
        source = kwargs.get("duration_source", "duration_decode")
        if source == "original":
            durs_dec = durs_enc
        else:
            dur_kwargs = dict(kwargs.get("duration_predictor_kwargs") or {})
            if kwargs.get("budget_decode") and "num_frames" not in dur_kwargs:
                dur_kwargs["num_frames"] = torch.tensor([feats.shape[1]])
            plats, length = m.lats_to_plats(m.feats_to_lats(feats), durs_enc)
            durs_dec = m.pcodes_to_durs(m.plats_to_pcodes(plats), length=length,
                                        sample=source == "duration_sample", **dur_kwargs)
        self._cmp(file, f"{tag}.durs_dec", durs_dec, ref)

    # ---- batch with relative lengths ------------------------------------------------------------
    def batch3(self, file: str) -> None:
        m, ref = self.model, self._load(file)
        sig, length = self.inputs["sig_batch"], self.inputs["length_batch"]
        feats = m.sig_to_feats(sig, length=length)
        self._cmp(file, "feats", feats, ref)
        self._cmp(file, "hazard_logits", m.boundary_predictor(feats)[0], ref)
        durs = m.feats_to_durs(feats, length=length)
        self._cmp(file, "durs_enc", durs, ref)
        plats, plen = m.lats_to_plats(m.feats_to_lats(feats), durs)
        self._cmp(file, "plats", plats, ref)
        self._cmp(file, "plats_length", plen if plen is not None else torch.ones(plats.shape[0]), ref)
        pcodes = m.plats_to_pcodes(plats)
        self._cmp(file, "toks", m.plats_to_toks(plats), ref)
        self._cmp(file, "pcodes", pcodes, ref)
        self._cmp(file, "mu_free", m.duration_predictor(pcodes)[0], ref)
        num_frames = torch.round(length * feats.shape[1]).long()
        self._cmp(file, "num_frames", num_frames, ref)
        self._cmp(file, "durs_dec_budget", m.pcodes_to_durs(pcodes, length=plen, num_frames=num_frames), ref)
        self._cmp(file, "durs_dec_free", m.pcodes_to_durs(pcodes, length=plen), ref)
        modes: dict[str, dict[str, Any]] = {"orig": dict(duration_source="original"),
                                            "budget": dict(budget_decode=True), "free": {}}
        for tag, kw in modes.items():
            toks, pcodes_f, rec = m(sig, length=length, boundary_source="boundary_decode", **kw)
            for key, value in (("toks", toks), ("pcodes", pcodes_f), ("rec_sig", rec)):
                self._cmp(file, f"{tag}.{key}", value, ref)
        self._cmp(file, "sig2_only_feats", m.sig_to_feats(self.inputs["sig2_unpadded"]), ref)

    # ---- retriever and kNN ----------------------------------------------------------------------
    def retriever(self, file: str) -> None:
        m, ref = self.model, self._load(file)
        if m.retriever is None or m.retriever.index is None:
            self.checks.append(Check(file, "*", "float", float("inf"), 0, "no retriever or index.faiss"))
            return
        pool = m.retriever.encode(ref["pool_feats"][None])[0]
        self._cmp(file, "pool_lats", pool, ref)
        qfeats = self._budget_qfeats()
        query = m.retriever.encode(qfeats)
        self._cmp(file, "query_lats", query, ref)
        sims, ids = m.retriever.index.search(query.reshape(-1, query.shape[-1]).numpy(), 1)
        self._cmp(file, "query_sims_top1", torch.from_numpy(sims[:, 0]), ref)
        self._cmp(file, "query_ids_top1", torch.from_numpy(ids[:, 0]), ref)
        thr = float(ref["sim_threshold_median"].reshape(-1)[0])
        self._cmp(file, "rad_feats_thr_median", m.qfeats_to_feats(qfeats, sim_threshold=thr, blend=1.0), ref)
        self._cmp(file, "knn_direct_topk4", m.knn(qfeats, ref["matching_set"], topk=4, num_splits=1), ref)

    def _budget_qfeats(self) -> torch.Tensor:
        m = self.model
        feats = m.sig_to_feats(self.inputs["sig"])
        plats, _ = m.lats_to_plats(m.feats_to_lats(feats), m.feats_to_durs(feats))
        pcodes = m.plats_to_pcodes(plats)
        durs = m.pcodes_to_durs(pcodes, num_frames=torch.tensor([feats.shape[1]]))
        return m.codes_to_qfeats(m.pcodes_to_codes(pcodes, durs)[0])

    def char_aligner_stub(self, file: str) -> None:
        """The stub logits themselves are an input (used by the ``ca_*`` modes)."""

    # ---- parameter-free units -------------------------------------------------------------------
    def units(self, file: str) -> None:
        ref = self._load(file)
        for prefix in sorted({k.split(".")[0] for k in ref if k.startswith("ssq")}):
            levels = 5 if prefix.endswith("_5") else 4
            ssq = ScalarSphericalQuantizer(ref[f"{prefix}.lats"].shape[-1], levels)
            self._cmp(file, f"{prefix}.toks", ssq.lats_to_toks(ref[f"{prefix}.lats"]), ref)
            self._cmp(file, f"{prefix}.codes", ssq.lats_to_codes(ref[f"{prefix}.lats"]), ref)
            if f"{prefix}.codebook" in ref:
                self._cmp(file, f"{prefix}.codebook", ssq.codebook, ref)
        hazard, logits, length = self.model.boundary_predictor, ref.get("hazard.logits"), ref.get("hazard.length")
        cases: dict[str, dict[str, Any]] = {"dec_default": {}, "dec_thr07_mg3": dict(threshold=0.7, min_gap=3),
                 "dec_mg2_maxg5": dict(min_gap=2, max_gap=5),
                 "dec_thr03_mg4_maxg12": dict(threshold=0.3, min_gap=4, max_gap=12)}
        if logits is not None:
            for case, kw in cases.items():
                self._cmp(file, f"hazard.{case}", hazard.decode(logits, None, **kw), ref)
                self._cmp(file, f"hazard.{case}.len", hazard.decode(logits, length, **kw), ref)
            samplings: tuple[tuple[str, int, dict[str, Any]], ...] = (
                ("smp_default_seed5", 5, {}),
                ("smp_mg3_maxg12_t07_seed6", 6, dict(min_gap=3, max_gap=12, temperature=0.7)))
            for case, seed, kw in samplings:
                for suffix, lens in (("", None), (".len", length)):
                    torch.manual_seed(seed)
                    self._cmp(file, f"hazard.{case}{suffix}", hazard.sample(logits, lens, **kw), ref)
        if "b2d.boundary" in ref:
            self._cmp(file, "b2d.durations", boundaries_to_durations(ref["b2d.boundary"], ref["b2d.abs_length"]), ref)
        self._negbin_units(file, ref)
        if "esr.mu" in ref:
            renorm = renormalize_mu_to_budget(ref["esr.mu"], ref["esr.budget"], ref["esr.mask_valid"].bool())
            self._cmp(file, "esr.renorm", renorm, ref)
            self._cmp(file, "esr.rounded", exact_sum_rounding(ref["esr.renorm"], ref["esr.budget"],
                                                              ref["esr.mask_valid"].bool()), ref)
        if "pool.plats_in" in ref:
            unpooled = RepeatInterleaveUnpool()(ref["pool.plats_in"], ref["pool.durs"])
            self._cmp(file, "pool.unpooled", unpooled, ref)
            self._cmp(file, "pool.repooled", SelectLastPool()(ref["pool.unpooled"], ref["pool.durs"]), ref)

    def _negbin_units(self, file: str, ref: dict[str, torch.Tensor]) -> None:
        if "negbin.mu_free" not in ref:
            return
        negbin, mu = self.model.duration_predictor, ref["negbin.mu_free"]
        length, frames = ref["negbin.length"], ref["negbin.num_frames"]
        self._cmp(file, "negbin.alpha", negbin.alpha().reshape(ref["negbin.alpha"].shape), ref)
        self._cmp(file, "negbin.dec_free", negbin.decode(mu, None), ref)
        self._cmp(file, "negbin.dec_free.len", negbin.decode(mu, length), ref)
        self._cmp(file, "negbin.dec_budget.len", negbin.decode(mu, length, frames), ref)
        budget_frames = torch.tensor([150, 60, 40, 200][: mu.shape[0]])
        self._cmp(file, "negbin.dec_budget", negbin.decode(mu, None, budget_frames), ref)
        torch.manual_seed(31)
        self._cmp(file, "negbin.smp_free_seed31", negbin.sample(mu, None), ref)
        torch.manual_seed(32)
        self._cmp(file, "negbin.smp_budget_seed32.len", negbin.sample(mu, length, frames), ref)

    # ---- MMS post-processing ------------------------------------------------------------------
    def mms_postproc(self, file: str) -> None:
        ref = self._load(file)
        cases = json.loads((self.folder / "mms_postproc.json").read_text())
        for case, entry in cases.items():
            tokens = torch.tensor(entry["tokens"])
            tokens = tokens[None] if tokens.dim() == 1 else tokens
            logits = torch.nn.functional.one_hot(tokens, num_classes=max(10, int(tokens.max()) + 1)).float()
            length = torch.tensor(entry["length"]) if entry.get("length") is not None else None
            durs, _ = ctc_durations(logits, length, max_silence_s=entry.get("max_silence_s"))
            self._cmp(file, f"{case}.durations", durs, ref)

    def run(self) -> list[Check]:
        manifest = json.loads((self.folder / "manifest.json").read_text())
        handlers: dict[str, Callable[[str], None]] = {
            "b1_stages.safetensors": self.b1_stages, "modes_b1.safetensors": self.modes,
            "batch3.safetensors": self.batch3, "retriever.safetensors": self.retriever,
            "units.safetensors": self.units, "mms_postproc.safetensors": self.mms_postproc,
            "char_aligner_stub.safetensors": self.char_aligner_stub, "inputs.safetensors": lambda f: None,
        }
        with torch.no_grad():
            for file in manifest:
                handler = handlers.get(file)
                if handler is None:
                    self.checks.append(Check(file, "*", "int", float("inf"), 0, "no replayer for this file"))
                    continue
                handler(file)
        return self.checks


@register_parity("dycast")
def check_folder(folder: str | Path) -> list[Check]:
    """Replay every recorded call of a DyCAST fixture folder; one :class:`Check` per output tensor."""
    return Replayer(folder).run()
