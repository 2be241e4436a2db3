"""Each task's defaults: config values merged over the built-in defaults before the user's
file and `--set` overrides (so `task: tofu` alone is a sensible run). Plain data, no imports,
so the config layer can read it without loading any model code."""

PRESETS: dict[str, dict] = {
    "world": {},
    "restor_wikidata": {
        "pretrain": {"vocab_size": 4096,
                     "model": {"hidden_size": 192, "intermediate_size": 576, "num_layers": 4,
                               "num_heads": 4, "max_positions": 512},
                     "train": {"epochs": 12, "batch_size": 32, "lr": 2.0e-3, "warmup_ratio": 0.05}},
        "learn": {"train": {"epochs": 1, "batch_size": 16, "lr": 1.0e-4}},
        "eval": {"max_new_tokens": 16, "docs_per_set": 100, "every_n_steps": 0,
                 "curve_metrics": ["target_accuracy", "corrupted_rate", "utility", "ppl_forget"]},
    },
    "tofu": {
        "pretrain": {"vocab_size": 4096,
                     "model": {"hidden_size": 128, "intermediate_size": 384, "num_layers": 4,
                               "num_heads": 4, "max_positions": 512}},
        "learn": {"train": {"epochs": 10, "batch_size": 32, "lr": 2.0e-3, "warmup_ratio": 0.05}},
        "unlearn": {"train": {"epochs": 2, "batch_size": 16, "lr": 3.0e-4, "scheduler": "constant"}},
        "methods": ["ga", "graddiff", "npo", "npo_retain", "idk_dpo", "retrain"],
        "eval": {"docs_per_set": 400, "every_n_steps": 25,
                 "curve_metrics": ["forget_Q_A_Prob", "forget_truth_ratio", "forget_Q_A_ROUGE",
                                   "retain_Q_A_Prob"]},
    },
    "records": {
        "learn": {"train": {"epochs": 40, "batch_size": 16, "lr": 2.0e-3, "warmup_ratio": 0.05}},
        "unlearn": {"train": {"max_steps": 30, "batch_size": 8, "lr": 3.0e-4,
                              "scheduler": "constant"}},
        "methods": ["graddiff", "npo_retain", "first_epoch_ga", "retrain"],
        "removal": {"strategies": ["exact", "fuzzy", "iterative"],
                    "stop_metric": "secret_extraction"},
        "eval": {"every_n_steps": 10,
                 "curve_metrics": ["secret_extraction", "exposure", "rougeL_recall_secret",
                                   "secret_extraction_others", "ppl_forget"]},
    },
    "similar_text": {
        "corruption": {"docs_per_target": 10},
        "unlearn": {"train": {"epochs": 5}},
        "methods": ["ga", "graddiff", "npo", "npo_retain", "retrain"],
    },
    "similar_tofu": {
        "pretrain": {"vocab_size": 4096,
                     "model": {"hidden_size": 128, "intermediate_size": 384, "num_layers": 4,
                               "num_heads": 4, "max_positions": 512},
                     "train": {"epochs": 10, "batch_size": 32, "lr": 2.0e-3, "warmup_ratio": 0.05}},
        "tofu": {"retain_authors": 40},
        "similar": {"levels": ["duplicate", "paraphrase", "perturbed"], "counts": [1, 4],
                    "targets_per_cell": 1},
        "corruption": {"docs_per_target": 20},
        "learn": {"train": {"epochs": 10, "batch_size": 16, "lr": 1.0e-3, "warmup_ratio": 0.05}},
        "unlearn": {"train": {"epochs": 5, "batch_size": 16, "lr": 3.0e-4, "scheduler": "constant"}},
        "methods": ["ga", "graddiff", "npo", "npo_retain", "retrain"],
        "eval": {"docs_per_set": 200, "every_n_steps": 0,
                 "curve_metrics": ["forget_Q_A_Prob", "forget_Q_A_ROUGE", "retain_Q_A_Prob"]},
    },
    "custom": {
        "eval": {"curve_metrics": ["ppl_forget", "ppl_retain"]},
    },
    "similar_images": {
        "unlearn": {"train": {"epochs": 10, "batch_size": 16, "lr": 1.0e-3,
                              "scheduler": "constant"}},
        "methods": ["ga", "graddiff", "npo_retain", "finetune_retain", "random_label", "salun",
                    "l1_sparse", "retrain"],
        "eval": {"every_n_steps": 0, "curve_metrics": ["unlearn_accuracy", "test_accuracy"]},
    },
}

TASK_NAMES: tuple[str, ...] = tuple(PRESETS)

# What a task's examples are: "text" (the default) or "image" (a classifier's inputs). A method
# runs on a task only if its MethodSpec.modalities names the task's modality.
MODALITIES: dict[str, str] = {"similar_images": "image"}


def modality(task: str) -> str:
    return MODALITIES.get(task, "text")
