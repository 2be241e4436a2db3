"""summary.md and the terminal summary: the report's tables as Markdown."""

from __future__ import annotations

from unlearnlab.comparisons import strata_metrics, task_of
from unlearnlab.report import tables

READING = {
    "world": ("Accuracy = normalised exact match; logp = mean per-token log-prob; restoration = "
              "(acc - acc_corrupted) / (acc_clean - acc_corrupted); MIA AUC: forget vs held-out "
              "documents, 0.5 = indistinguishable."),
    "tofu": ("Metrics as TOFU / open-unlearning define them: Q_A prob = exp(-mean answer-token "
             "NLL); truth ratio (forget) = mean of min(R, 1/R); ROUGE-L recall of the greedy "
             "answer; forget quality = KS-test p-value of truth ratios against the retrained "
             "model; privleak in MUSE's convention (0 = as private as retraining)."),
    "records": ("secret extraction = the greedy completion of a record prefix is the secret; "
                "exposure = log2|C| - log2 rank of the secret among same-format candidates "
                "(Carlini et al. 2019); _others = people who did not ask (utility); MIA AUC: "
                "forget vs never-trained people's documents, 0.5 = indistinguishable."),
    "similar_images": ("Metrics in SalUn's convention: UA = 1 - forget accuracy, RA / TA = "
                       "retain / test accuracy, MIA-efficacy = share of forget images an SVC "
                       "(retain vs test confidences) calls non-members, avg gap = mean |Δ| to "
                       "retrain over UA, RA, TA, MIA-efficacy; LiRA score = log-likelihood ratio "
                       "of the forget image's logit-scaled confidence under K shadow models "
                       "trained with vs without it (> 0: looks trained on); ideal = trained "
                       "without the forget and the similar images."),
    "custom": ("ppl = perplexity of the forget / retain texts (answers only for question-answer "
               "pairs); exact_mem / extraction: teacher-forced argmax agreement; MIA AUC: forget vs "
               "held-out texts, 0.5 = indistinguishable."),
}


def headline(results: dict, manifest: dict) -> str:
    task, items = task_of(results), results["items"]
    if "target" in items and "utility" in items:
        pooled = f"{len(items['target'])} target and {len(items['utility'])} utility facts"
        single = f"{len(items['target'])} target facts, {len(items['utility'])} utility facts"
    else:
        pooled = single = ", ".join(f"{len(v)} {k} items" for k, v in items.items()
                                    if not k.endswith("_docs"))
    if tables.is_multi_seed(results):
        seeds = ", ".join(str(s) for s in results["seeds"])
        scope = (f"{len(results['seeds'])} seeds ({seeds}); mean over seeds ± half-width of the "
                 f"95% t-interval over seeds (cut to the metric's range); {pooled} pooled")
    else:
        first = next(iter(results["models"].values()))["metrics"]
        how = ("95% interval over items: Wilson for right/wrong outcomes, bootstrap for "
               "perplexities, t otherwise" if any("ci_method" in m for m in first.values())
               else "95% t-interval over items")           # runs written before ci_method
        scope = f"seed {results.get('seed', manifest.get('seed'))}; {single}; [{how}]"
    family = task["name"] if task["name"] in READING else "world"
    name = {"tofu": "TOFU", "custom": "Custom-data", "records": "Personal-records",
            "similar_text": "Similar-samples",
            "similar_images": "Similar-images"}.get(task["name"], "RESTOR")
    return f"{name} summary of run '{manifest.get('name', '?')}': {scope}. {READING[family]}"


def terminal_summary(results: dict, manifest: dict) -> str:
    """What `unlearnlab run` prints: the headline, the models table and the findings."""
    findings = "".join(f"- {line}\n" for line in tables.findings(results))
    warnings = "".join(f"WARNING: {w}\n" for w in results.get("warnings", []))
    warnings += "".join(f"{kind.upper()} {line}\n" for kind, line in tables.flag_lines(results))
    return (headline(results, manifest) + "\n\n" + tables.markdown(tables.main_table(results))
            + "\n\n" + findings + ("\n" + warnings if warnings else ""))


def comparisons_lead(results: dict) -> str:
    """How the paired comparisons were computed, for summary.md and the report alike (runs
    written before adjusted intervals used Holm-adjusted t-tests)."""
    adjusted = any("p_adj" in c for by_metric in results.get("comparisons", {}).values()
                   for by_base in by_metric.values() for c in by_base.values())
    noun = "target fact" if "target" in results["items"] else "question"
    how = (". One primary test per outcome: exact McNemar for right/wrong answers, paired t "
           "otherwise; p and its interval Bonferroni-adjusted over the methods (the interval "
           "excludes 0 exactly when the mark is *); " if adjusted else
           "; p-values of the paired t-test Holm-adjusted across methods; ")
    return (f"Per item ({noun}, or document for ppl / membership), method minus baseline{how}"
            "sig.: *** p < 0.001, ** p < 0.01, * p < 0.05, ns otherwise.")


REMOVAL_LEAD = ("How each model's forget set was found from the removal requests: exact = the "
                "ground truth, fuzzy = one-shot matches of the request, iterative = unlearn, "
                "verify, expand; precision and recall of what was removed against the ground "
                "truth; steps of unlearning, and its wall time per seed (seconds).")


def strata_lead(results: dict) -> str:
    """What the by-stratum tables show, for the run's task."""
    return STRATA_LEADS.get(task_of(results)["name"], STRATA_LEAD)


STRATA_LEAD = ("Target facts grouped by their entity's stratum (similar_text: the similarity "
               "level of the neighbours kept in training, x their number per forget document). "
               "Residual influence: corrupted_rate is the share of answers that are still the "
               "injected value (the ideal, the clean model, gives 0); target_accuracy the "
               "clean answers recovered.")
STRATA_LEADS = {"similar_tofu": (
    "TOFU forget pairs grouped by their author's cell (similar_tofu: the level of the "
    "neighbours kept in training — duplicate, paraphrase (TOFU's paraphrased question and "
    "answer), perturbed (TOFU's perturbed answers: lexically close, another fact) — x their "
    "number per forget pair). Residual influence is the distance from the ideal (the clean "
    "model, which never saw the forget pairs nor their neighbours) on the forget pairs: "
    "answer probability and ROUGE-L recall; retrain removes the forget pairs only."),
    "similar_images": (
    "Forget images grouped by their cell (similar_images: the level of the neighbours kept in "
    "training — copy, weak / strong augmentation, natural nearest neighbours, control with "
    "none — x their number per forget image). Residual influence is the distance from the "
    "ideal (trained without the forget and the similar images) on the forget images: UA "
    "(misclassified share), forget loss and LiRA score; retrain removes the forget images "
    "only, so whatever separates it from the ideal is the similar images' doing.")}
SEQUENCE_LEAD = ("Requests served one after another, each from the model the previous one left "
                 "(MUSE's sustainability): after each request, the probe over each request's "
                 "people (served or still waiting) and model utility.")


def summary_markdown(results: dict, manifest: dict) -> str:
    parts = [f"# {manifest.get('name', 'run')}", "", headline(results, manifest), "",
             *[f"**Warning:** {w}\n" for w in results.get("warnings", [])],
             "## Models", "", tables.markdown(tables.main_table(results)), "",
             *[f"- **{kind}** {line}" for kind, line in tables.flag_lines(results)],
             *([""] if tables.flag_lines(results) else [])]
    findings = tables.findings(results)
    if findings:
        parts += ["## Findings", "", *[f"- {line}" for line in findings], ""]
    parts += ["## Every metric", "", tables.markdown(tables.all_metrics_table(results)), ""]
    stats = tables.stats_table(results)
    if stats[1]:
        parts += ["## Paired comparisons", "", comparisons_lead(results), "",
                  tables.markdown(stats), ""]
    if task_of(results).get("strata"):
        parts += ["## By stratum", "", strata_lead(results), ""]
        for metric in strata_metrics(results):
            parts += [f"**{metric}**", "", tables.markdown(tables.strata_table(results, metric)), "",
                      f"Paired per item against the {task_of(results)['roles']['before']} model "
                      f"(mean Δ; exact McNemar for right/wrong outcomes, paired t otherwise; "
                      f"Bonferroni over models x strata):", "",
                      tables.markdown(tables.strata_test_table(results, metric)), ""]
    if results.get("removal"):
        parts += ["## Removal requests", "", REMOVAL_LEAD, "",
                  tables.markdown(tables.removal_table(results, manifest)), ""]
        sequence = tables.sequence_table(results)
        if sequence[1]:
            parts += ["### Sequential requests", "", SEQUENCE_LEAD, "", tables.markdown(sequence), ""]
    if results.get("head_to_head"):
        parts += [f"## Method against method ({task_of(results)['primary']})", "",
                  f"Row minus column; {tables.head_to_head_how(results)}.", "",
                  tables.markdown(tables.head_to_head_table(results)), ""]
    if tables.has_relations(results):
        parts += ["## Target accuracy per relation", "",
                  tables.markdown(tables.relation_table(results)), ""]
    parts += ["## Run", "", tables.markdown(tables.run_table(manifest)), ""]
    return "\n".join(parts)
