"""summary.md and the terminal summary: the report's tables as Markdown."""

from __future__ import annotations

from unlearnlab.report import tables


def headline(results: dict, manifest: dict) -> str:
    n_target = len(results["items"]["target"])
    n_util = len(results["items"]["utility"])
    if tables.is_multi_seed(results):
        seeds = ", ".join(str(s) for s in results["seeds"])
        scope = (f"{len(results['seeds'])} seeds ({seeds}); mean over seeds ± half-width of the "
                 f"95% t-interval over seeds; {n_target} target and {n_util} utility facts pooled")
    else:
        scope = (f"seed {results.get('seed', manifest.get('seed'))}; {n_target} target facts, "
                 f"{n_util} utility facts; [95% t-interval over items]")
    return (f"RESTOR summary of run '{manifest.get('name', '?')}': {scope}. "
            "Accuracy = normalised exact match; logp = mean per-token log-prob; restoration = "
            "(acc - acc_corrupted) / (acc_clean - acc_corrupted); MIA AUC: forget vs held-out "
            "documents, 0.5 = indistinguishable.")


def terminal_summary(results: dict, manifest: dict) -> str:
    """What `unlearnlab run` prints: the headline, the models table and the findings."""
    findings = "".join(f"- {line}\n" for line in tables.findings(results))
    return (headline(results, manifest) + "\n\n" + tables.markdown(tables.main_table(results))
            + "\n\n" + findings)


def summary_markdown(results: dict, manifest: dict) -> str:
    parts = [f"# {manifest.get('name', 'run')}", "", headline(results, manifest), "",
             "## Models", "", tables.markdown(tables.main_table(results)), ""]
    findings = tables.findings(results)
    if findings:
        parts += ["## Findings", "", *[f"- {line}" for line in findings], ""]
    parts += ["## Every metric", "", tables.markdown(tables.all_metrics_table(results)), ""]
    stats = tables.stats_table(results)
    if stats[1]:
        parts += ["## Paired comparisons", "",
                  "Per item (target fact, or document for ppl / membership), method minus "
                  "baseline; p-values of the paired t-test Holm-adjusted across methods; "
                  "sig.: *** p < 0.001, ** p < 0.01, * p < 0.05, ns otherwise.", "",
                  tables.markdown(stats), ""]
    if results.get("head_to_head"):
        parts += ["## Method against method (target accuracy)", "",
                  tables.markdown(tables.head_to_head_table(results)), ""]
    parts += ["## Target accuracy per relation", "",
              tables.markdown(tables.relation_table(results)), ""]
    parts += ["## Run", "", tables.markdown(tables.run_table(manifest)), ""]
    return "\n".join(parts)
