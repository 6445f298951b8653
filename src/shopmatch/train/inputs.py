"""What training reads from files: catalogs, judgments, pair sets and unlabeled texts, each through one function.

Every recipe reads its judgments with :func:`read_training_judgments`, so an option of the
judgments reader (for example how duplicate judgments are resolved) is added here once and
reaches every model family.

Example:
    >>> from pathlib import Path
    >>> _ = Path("/tmp/titles.txt").write_text("猫粮 成猫\\n\\n 狗粮\\n", encoding="utf-8")
    >>> read_texts("/tmp/titles.txt")
    ['猫粮 成猫', '狗粮']
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shopmatch.errors import ConfigError, DataError

if TYPE_CHECKING:
    from shopmatch.catalog import Catalog
    from shopmatch.judgments import GainMap, Judgments, Pair


def parse_gains(spec: str) -> GainMap:
    """The gain map of a ``gains`` setting (``E=1,S=0.1,C=0.01,I=0``, ``offset=1``, ...).

    Raises:
        ConfigError: the spec does not parse.
    """
    from shopmatch.judgments import GainMap

    try:
        return GainMap.parse(spec)
    except ValueError as error:
        raise ConfigError(f"gains: {error}") from None


def read_training_judgments(path: str | Path, gains: GainMap, duplicates: str = "mean") -> Judgments:
    """The judgments a recipe trains (or picks its best epoch) on; labels unknown to ``gains`` are
    errors; several ratings of one pair are merged by ``duplicates`` (see :func:`read_judgments`).

    Every recipe reads judgments here, so a reader option reaches them all from one place.
    """
    from shopmatch.judgments import read_judgments

    return read_judgments(path, gains=gains, duplicates=duplicates)


def read_training_pairs(path: str | Path) -> list[Pair]:
    """The rows of a ``pairs.tsv`` (text_a, text_b, integer class).

    Raises:
        DataError: a bad row (named by file and line), or no rows at all.
    """
    from shopmatch.judgments import read_pairs

    rows = read_pairs(path)
    if not rows:
        raise DataError("no pairs", path=path)
    return rows


def read_products(path: str | Path) -> Catalog:
    """The catalog the judged product ids refer to."""
    from shopmatch.catalog import read_catalog

    return read_catalog(path)


def read_texts(path: str | Path) -> list[str]:
    """The texts of a plain UTF-8 file, one per line (blank lines skipped; ``.gz`` read as gzip).

    Raises:
        DataError: the file is missing or a line is not valid UTF-8 (named by file and line).
    """
    from shopmatch.catalog import decode_text_file

    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    texts = []
    for number, line in enumerate(decode_text_file(path).splitlines(), start=1):
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            raise DataError("is not valid UTF-8", path=path, line=number) from None
        if line.strip():
            texts.append(line.strip())
    return texts
