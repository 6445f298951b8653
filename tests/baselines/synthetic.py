"""A small synthetic matching task that a working matcher must learn, in English and Chinese.

Six topics, each with its own English words and Chinese characters. A query is two tokens of
one topic, a product text four tokens of one topic (often sharing a token with the query); the
pair matches when the topics agree. Half the pairs are English (words joined by spaces), half
Chinese (characters written together, so only character tokenization can find them).
"""

from __future__ import annotations

import random

from shopmatch.judgments import Pair

TOPICS = [
    ("sofa couch cushion velvet leather recliner", "沙发靠垫绒皮躺椅"),
    ("charger cable usb adapter plug battery", "充电线插头电池器"),
    ("skillet pan iron wok pot lid", "锅铲铁炒煎盖灶"),
    ("sock wool boot shoe lace heel", "袜毛靴鞋带跟底"),
    ("lamp bulb light shade led bright", "灯泡光罩亮照明"),
    ("mug cup tea coffee saucer kettle", "杯茶咖啡碟壶瓷"),
]


def _tokens(topic: int, chinese: bool) -> list[str]:
    english, characters = TOPICS[topic]
    return list(characters) if chinese else english.split()


def pairs(n: int, seed: int) -> list[tuple[str, str, float]]:
    """``n`` ``(query, text, target)`` pairs, half matching (target 1.0), half not (0.0)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        chinese = i % 2 == 1
        topic = rng.randrange(len(TOPICS))
        match = rng.random() < 0.5
        other = topic if match else rng.choice([t for t in range(len(TOPICS)) if t != topic])
        joiner = "" if chinese else " "
        query = joiner.join(rng.sample(_tokens(topic, chinese), 2))
        text = joiner.join(rng.sample(_tokens(other, chinese), 4))
        out.append((query, text, 1.0 if match else 0.0))
    return out


def graded_pairs(n: int, seed: int) -> list[Pair]:
    """Three classes: 2 = same topic, 1 = the "neighbouring" topic (topic ± 1 mod 6), 0 = any other."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        chinese = i % 2 == 1
        topic = rng.randrange(len(TOPICS))
        label = rng.randrange(3)
        if label == 2:
            other = topic
        elif label == 1:
            other = (topic + 1) % len(TOPICS)
        else:
            other = rng.choice([t for t in range(len(TOPICS)) if t not in (topic, (topic + 1) % len(TOPICS))])
        joiner = "" if chinese else " "
        query = joiner.join(rng.sample(_tokens(topic, chinese), 2))
        # a neighbouring-topic text carries one token of the query's topic: partly relevant
        text_tokens = rng.sample(_tokens(other, chinese), 4)
        if label == 1:
            text_tokens[0] = rng.choice(_tokens(topic, chinese))
        out.append(Pair(query, joiner.join(text_tokens), label))
    return out
