import random
import re

from tfops.masking import MASK, Masker


def test_patterns_and_values_are_masked() -> None:
    masker = Masker([r"dfp_live_[0-9a-f]+"], ["hunter22", "abc"])
    text = "key dfp_live_5f3a and password hunter22; abc is too short to mask"
    assert masker(text) == f"key {MASK} and password {MASK}; abc is too short to mask"


def test_the_longest_secret_wins_like_a_sorted_alternation() -> None:
    rng = random.Random(7)
    values = {"".join(rng.choice("abc") for _ in range(rng.randint(4, 8))) for _ in range(400)}
    masker = Masker(values=values)
    naive = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))
    for _ in range(2000):
        text = "".join(rng.choice("abc _") for _ in range(50))
        assert masker(text) == naive.sub(MASK, text)


def test_many_secrets_stay_fast() -> None:
    rng = random.Random(3)
    values = ["".join(rng.choice("0123456789abcdef") for _ in range(24)) for _ in range(2000)]
    masker = Masker(values=values)
    text = ("resource change with value " + values[5] + " and more text\n") * 5000
    masked = masker(text)
    assert values[5] not in masked and masked.count(MASK) == 5000
