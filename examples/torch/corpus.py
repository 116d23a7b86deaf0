"""A small word-level corpus for the language-model examples, generated the same way every time.

Sentences come from a little stochastic grammar with agreement between subject and verb, so a
model that remembers the subject across the adjectives and prepositional phrases in between beats
one that only counts words. NumPy draws the sentences from a fixed seed: the corpus does not
depend on the framework or on the script's seed.
"""

import numpy as np

DETERMINERS = ["the", "a", "every", "some"]
ADJECTIVES = ["small", "old", "red", "quiet", "clever", "lazy"]
NOUNS = {"sg": ["cat", "dog", "bird", "child", "robot", "teacher"],
         "pl": ["cats", "dogs", "birds", "children", "robots", "teachers"]}
VERBS = {"sg": ["sees", "likes", "follows", "finds"], "pl": ["see", "like", "follow", "find"]}
INTRANSITIVE = {"sg": ["sleeps", "runs", "sings"], "pl": ["sleep", "run", "sing"]}
PLACES = ["garden", "house", "park", "river"]
PREPOSITIONS = ["in", "near", "behind"]


def noun_phrase(rng: np.random.Generator, number: str) -> list[str]:
    """[determiner] [adjective]* noun [preposition the place]."""
    det = "the" if number == "pl" else DETERMINERS[rng.integers(len(DETERMINERS))]
    words = [det]
    while rng.random() < 0.4:
        words.append(ADJECTIVES[rng.integers(len(ADJECTIVES))])
    words.append(NOUNS[number][rng.integers(len(NOUNS[number]))])
    if rng.random() < 0.3:
        words += [PREPOSITIONS[rng.integers(len(PREPOSITIONS))], "the",
                  PLACES[rng.integers(len(PLACES))]]
    return words


def sentence(rng: np.random.Generator) -> list[str]:
    """Subject, a verb agreeing with it, an optional object, then a full stop."""
    number = "sg" if rng.random() < 0.5 else "pl"
    words = noun_phrase(rng, number)
    if rng.random() < 0.3:
        words.append(INTRANSITIVE[number][rng.integers(3)])
    else:
        words.append(VERBS[number][rng.integers(len(VERBS[number]))])
        words += noun_phrase(rng, "sg" if rng.random() < 0.5 else "pl")
    return [*words, "."]


def make_corpus(n_train: int = 12000, n_valid: int = 2000, seed: int = 1234
                ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Vocabulary and two token-id arrays (train, valid) of at least the requested lengths."""
    rng = np.random.default_rng(seed)
    words: list[str] = []
    while len(words) < n_train + n_valid:
        words += sentence(rng)
    vocab = sorted(set(words))
    index = {w: i for i, w in enumerate(vocab)}
    ids = np.array([index[w] for w in words], dtype=np.int64)
    return vocab, ids[:n_train], ids[n_train:n_train + n_valid]
