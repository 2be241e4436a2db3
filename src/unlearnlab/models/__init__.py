"""Model and tokenizer builders: the built-in tiny model, and loading any local HF causal LM."""
