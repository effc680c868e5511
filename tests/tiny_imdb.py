"""A tiny IMDB folder for tests, in the JSON-lines layout that rnnlab.imdb reads."""
import gzip
import json

import numpy as np


def tiny_reviews(folder, n=40, seed=0):
    """train.jsonl.gz and test.jsonl.gz of n reviews each whose label is one word, "great" (positive) or "awful"
    (negative), at the end of 3–13 filler words, so that a tiny model learns it in a few epochs."""
    rng = np.random.default_rng(seed)
    filler = ["the", "film", "plot", "actor", "scene", "music", "story", "long"]
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        with gzip.open(folder / f"{split}.jsonl.gz", "wt", encoding="utf-8") as f:
            for i in range(n):
                words = list(rng.choice(filler, size=rng.integers(3, 14))) + ["great" if i % 2 else "awful"]
                f.write(json.dumps({"text": " ".join(words), "label": i % 2, "id": i // 2,
                                    "rating": 8 if i % 2 else 2}) + "\n")
    return folder
