"""What training reads from files: judgments, pair sets and unlabeled texts, each through one function.

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

from shopmatch.errors import DataError


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
