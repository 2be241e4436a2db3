"""Cross-model figures of one run, from per-model results only (no model is run here):
restoration, model utility, forget quality and privacy leak against the oracle, and paired
per-item comparisons of every method against the corrupted and the clean model."""

from __future__ import annotations

from unlearnlab.eval.metrics import restoration
from unlearnlab.eval.mia import ORIENTATION, privacy_leak
from unlearnlab.eval.tofu import forget_quality, model_utility
from unlearnlab.stats import holm, paired_comparison


def compare_models(results: dict, methods) -> None:
    """Cross-model figures, from per-model results only: restoration, model utility, and
    against the oracle (the retrained model when it ran, else the clean model, which is
    exactly what retraining without the forget set gives with the same seed: retrain with
    seed_offset 0 reproduces it bit for bit) forget quality and privacy leak."""
    models = results["models"]
    acc = {k: v["metrics"]["target_accuracy"]["mean"] for k, v in models.items()}
    results["restoration"] = {name: restoration(acc[name], acc["clean"], acc["corrupted"])
                              for name in methods}
    results["mia_orientation"] = ORIENTATION
    results["model_utility"] = {label: model_utility({k: v["mean"] for k, v in m["metrics"].items()})
                                for label, m in models.items()}
    oracle = "retrain" if "retrain" in methods else "clean"
    results["oracle"] = oracle
    ref = models[oracle]
    results["forget_quality"] = {
        label: forget_quality(m["values"]["truth_ratio_target"], ref["values"]["truth_ratio_target"])
        for label, m in models.items() if label != oracle}
    results["privacy_leak"] = {
        label: {kind: privacy_leak(v["auc"], ref["mia"][kind]["auc"]) for kind, v in m["mia"].items()}
        for label, m in models.items() if label != oracle}
    results["comparisons"] = paired_comparisons(models, methods)
    results["head_to_head"] = head_to_head(models, methods)


COMPARED = ("target_accuracy", "logp_correct", "ppl_forget", "ppl_retain", "membership_forget")


def paired_comparisons(models: dict, methods) -> dict:
    """Per method and metric, paired per item (target fact or document) against the corrupted
    and the clean model (t-test, Wilcoxon, d_z, bootstrap CI), with Holm-adjusted p-values
    across methods (one family per metric and baseline)."""
    out: dict = {name: {} for name in methods}
    for metric in COMPARED:
        for baseline in ("corrupted", "clean"):
            family = {}
            for name in methods:
                if metric not in models[name]["values"]:
                    continue
                cmp = paired_comparison(models[name]["values"][metric],
                                        models[baseline]["values"][metric])
                out[name].setdefault(metric, {})[f"vs_{baseline}"] = cmp
                family[name] = cmp["p_t"]
            for name, p in holm(family).items():
                out[name][metric][f"vs_{baseline}"]["p_t_holm"] = p
    return out


def head_to_head(models: dict, methods, metric: str = "target_accuracy") -> dict:
    """Every pair of methods "a|b" (a before b in the run's order), paired per item on
    `metric` (a - b), Holm-adjusted across all pairs: "does NPO restore more than GA?"."""
    methods = list(methods)
    out = {f"{a}|{b}": paired_comparison(models[a]["values"][metric], models[b]["values"][metric])
           for i, a in enumerate(methods) for b in methods[i + 1:]}
    for key, p in holm({k: c["p_t"] for k, c in out.items()}).items():
        out[key]["p_t_holm"] = p
    return out
