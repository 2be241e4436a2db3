"""Image metrics in the field's convention (SalUn, Fan et al. 2024, arXiv 2310.12508; Jia et al.
2023, arXiv 2304.04934): pure functions of per-item records (eval/image_records.py runs the
model).

A record is one image under one model: {group, key, label (as trained on), truth (its true
class), pred, logp (log p(label)),
confidence (p(label)), entropy, phi (the logit-scaled confidence log p / (1 - p))}, plus, on
forget images, `mia_nonmember` and `lira` once `attach_mia` / `attach_lira` added them.

    UA   unlearn_accuracy = 1 - accuracy on the forget set (per image: misclassified)
    RA   retain_accuracy, TA test_accuracy (per image: classified right)
    MIA-efficacy: an SVC (scikit-learn, RBF, C=3, gamma="auto", as SalUn's code) fitted on
         one feature of the model's records — confidence or entropy — of retain images
         (members, label 1) against as many test images (non-members, 0); applied to the
         forget images; efficacy = the share predicted non-member (per image: 1 or 0)
    avg gap = mean over (UA, RA, TA, MIA-efficacy) of |metric - metric of retrain|
    LiRA score (Carlini et al. 2022, arXiv 2112.03570; the NeurIPS 2023 unlearning
         challenge's per-example test): K shadow models retrained from scratch, each forget
         image in exactly K/2 of them; per image, Gaussians over the shadows' phi with and
         without it (per-image means, one pooled variance per side: LiRA's fixed-variance
         variant for small K); score = log N(phi; mu_in, s_in^2) - log N(phi; mu_out, s_out^2)
         (> 0: the model looks trained on the image)
"""

from __future__ import annotations

import math

import numpy as np

from unlearnlab.eval.metrics import HIGHER, NEUTRAL, metric

INF = float("inf")
FORGET, RETAIN, TEST, SIMILAR = "forget_images", "retain_images", "test_images", "similar_images"


@metric("unlearn_accuracy", description="UA: 1 - accuracy on the forget images (closer to "
        "retrain is better)", group=FORGET, direction=NEUTRAL, range=(0.0, 1.0))
def unlearn_accuracy(record: dict) -> float:
    return float(record["pred"] != record["label"])


@metric("retain_accuracy", description="RA: accuracy on the retain images (training minus "
        "the forget set)", group=RETAIN, direction=HIGHER, range=(0.0, 1.0))
def retain_accuracy(record: dict) -> float:
    return float(record["pred"] == record["label"])


@metric("test_accuracy", description="TA: accuracy on the test images (never trained on)",
        group=TEST, direction=HIGHER, range=(0.0, 1.0))
def test_accuracy(record: dict) -> float:
    return float(record["pred"] == record["label"])


@metric("similar_accuracy", description="accuracy on the similar images kept in training",
        group=SIMILAR, direction=NEUTRAL, range=(0.0, 1.0))
def similar_accuracy(record: dict) -> float:
    return float(record["pred"] == record["label"])


@metric("forget_true_accuracy", description="the forget image is classified as its true "
        "class (differs from 1 - UA when the forget images carry wrong labels)", group=FORGET,
        direction=NEUTRAL, range=(0.0, 1.0))
def forget_true_accuracy(record: dict) -> float | None:
    return float(record["pred"] == record["truth"]) if "truth" in record else None


@metric("forget_loss", description="cross-entropy of the forget image's label",
        group=FORGET, direction=NEUTRAL, range=(0.0, INF))
def forget_loss(record: dict) -> float:
    return -record["logp"]


@metric("mia_efficacy", description="MIA-efficacy (SalUn): the forget image is predicted a "
        "non-member by an SVC fitted on retain vs test features", group=FORGET,
        direction=NEUTRAL, range=(0.0, 1.0))
def mia_efficacy(record: dict) -> float | None:
    return record.get("mia_nonmember")


@metric("forget_lira", description="LiRA score of the forget image against K shadow models "
        "(log-likelihood ratio, trained-on vs not; > 0 looks trained on)", group=FORGET,
        direction=NEUTRAL, range=(-INF, INF))
def forget_lira(record: dict) -> float | None:
    return record.get("lira")


# ------------------------------------------------------------------ per-image features

def features(logprobs: np.ndarray, label: int) -> dict:
    """A record's numbers from one image's log-probabilities over the classes (C,)."""
    logp = float(logprobs[label])
    p = np.exp(logprobs)
    # log(1 - p_label) as the log-sum of the other classes: exact when p_label ~ 1
    others = float(np.logaddexp.reduce(np.delete(logprobs, label))) if len(logprobs) > 1 else -INF
    return {"label": int(label), "pred": int(np.argmax(logprobs)), "logp": logp,
            "confidence": math.exp(logp), "entropy": float(-(p * logprobs).sum()),
            "phi": logp - others}


# ------------------------------------------------------------------ MIA-efficacy (SalUn)

def svc_nonmember(members: np.ndarray, nonmembers: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1 where the SVC fitted on members (1) vs non-members (0) calls a target a non-member.
    Each argument: (n,) or (n, d) features."""
    from sklearn.svm import SVC

    def as2d(x):
        x = np.asarray(x, dtype=float)
        return x.reshape(len(x), -1)

    x = np.concatenate([as2d(members), as2d(nonmembers)])
    y = np.concatenate([np.ones(len(members)), np.zeros(len(nonmembers))])
    clf = SVC(C=3, gamma="auto", kernel="rbf").fit(x, y)
    return 1 - clf.predict(as2d(targets)).astype(int)


def attach_mia(records: list[dict], feature: str, member_keys: set[str] | None = None) -> None:
    """Add `mia_nonmember` to each forget record: the SVC fitted on this model's retain
    records (those in `member_keys`, else all) vs its test records, on `feature`."""
    members = [r[feature] for r in records if r["group"] == RETAIN
               and (member_keys is None or r["key"] in member_keys)]
    nonmembers = [r[feature] for r in records if r["group"] == TEST]
    targets = [r for r in records if r["group"] == FORGET]
    if not members or not nonmembers or not targets:
        return
    for r, v in zip(targets, svc_nonmember(np.array(members), np.array(nonmembers),
                                           np.array([t[feature] for t in targets]))):
        r["mia_nonmember"] = float(v)


# ------------------------------------------------------------------ LiRA

def lira_stats(phi: np.ndarray, inside: np.ndarray) -> dict[str, np.ndarray | float]:
    """Per image, the shadows' Gaussians with and without it.

    phi: (K, n) each shadow's phi on each image; inside: (K, n) bool, shadow k trained on
    image i. Returns per-image means mu_in, mu_out (n,) and the pooled standard deviations
    sd_in, sd_out (one per side: residuals about each image's own mean, over all images)."""
    phi, inside = np.asarray(phi, dtype=float), np.asarray(inside, dtype=bool)
    out = {}
    for side, mask in (("in", inside), ("out", ~inside)):
        count = mask.sum(0)
        mu = (phi * mask).sum(0) / np.maximum(count, 1)
        resid = ((phi - mu) * mask) ** 2
        dof = max(int(mask.sum()) - len(mu), 1)
        out[f"mu_{side}"] = mu
        out[f"sd_{side}"] = max(math.sqrt(resid.sum() / dof), 1e-3)
    return out


def lira_score(phi: float, mu_in: float, sd_in: float, mu_out: float, sd_out: float) -> float:
    """log N(phi; mu_in, sd_in^2) - log N(phi; mu_out, sd_out^2)."""
    def log_normal(x, mu, sd):
        return -0.5 * ((x - mu) / sd) ** 2 - math.log(sd) - 0.5 * math.log(2 * math.pi)
    return log_normal(phi, mu_in, sd_in) - log_normal(phi, mu_out, sd_out)


def attach_lira(records: list[dict], stats: dict, keys: list[str]) -> None:
    """Add `lira` to each forget record whose key is in `keys` (the order of `stats`)."""
    at = {k: i for i, k in enumerate(keys)}
    for r in records:
        if r["group"] == FORGET and r["key"] in at:
            i = at[r["key"]]
            r["lira"] = lira_score(r["phi"], stats["mu_in"][i], stats["sd_in"],
                                   stats["mu_out"][i], stats["sd_out"])


def average_gap(means: dict[str, float], reference: dict[str, float], names) -> float | None:
    """SalUn's "Avg. Gap": mean over `names` of |means[name] - reference[name]| (None if one
    is missing)."""
    names = list(names)
    gaps = [abs(means[n] - reference[n]) for n in names
            if means.get(n) is not None and reference.get(n) is not None]
    return sum(gaps) / len(gaps) if gaps and len(gaps) == len(names) else None
