"""Clean wikitext-conversion residue out of Wikinews JSONL texts: briefbot quotes them verbatim."""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

Fix = tuple[re.Pattern[str], str]

# Each rule: a name and its fixes, run in order; its count is how many substitutions it made.
RULES: tuple[tuple[str, tuple[Fix, ...]], ...] = (
    (
        "template names",
        (
            # An infobox or series banner ({{2005 London bombing infobox}}, {{Germanelection2005}})
            # became its name, glued to the start of the paragraph it stood above.
            (re.compile(r"(?m)^(?:[\w ]{0,40}?[Ii]nfobox|Germanelection2005)(?: |$)"), ""),
            # Status templates ({{Publish}}, {{Haveyoursay}}, {{Original reporting}}) became a last
            # paragraph of their own, or a last word after the final sentence.
            (
                re.compile(
                    r"(?m)(?:^|(?<=[.!?]) )"
                    r"(?:Haveyoursay|Original(?: reporting)?|[Pp]ublish)$"
                ),
                "",
            ),
            # Party-and-state templates ({{D-CA}}) rendered as an empty "(-)" after a name.
            (re.compile(r" \(-\)"), ""),
        ),
    ),
    (
        "image residue",
        (
            # [[Image:…|right|…]] left its alignment word in front of the paragraph's first word.
            (re.compile(r"(?m)^right (?=[A-Z])"), ""),
            # …and one image left its caption's credit inside the sentence it sat in.
            (re.compile(r" Source: Wikicommons\b"), ""),
        ),
    ),
    (
        "raw external links",
        (
            # A trailing "Related links" section of bare links, like the "Related news" and
            # "Sources" sections that the conversion already removed.
            (re.compile(r"\n+Related links(?:\n+\*\[[^\n]*)+\Z"), ""),
            # Wikitext renders [URL label] as its label and a bare [URL] as a footnote number:
            # keep the label, drop the rest.
            (re.compile(r"\[(?:https?|ftp)://[^\s\]]+(?: ([^\]]+))?\]"), r"\1"),
        ),
    ),
    (
        "split words",
        (
            # [[Egypt]]ian came out as "Egypt ian": a name, then a suffix that is no word by itself.
            (re.compile(r"\b([A-Z][a-z]+) (?=(?:ian|ese|n|i)\b(?!['’]))"), r"\1"),
            # Suffixes that are words too are joined only where the grammar gives them away:
            # "a Europe an station", and plural demonyms in a list ("Dutch, Kuwait is, Saudis").
            (re.compile(r"(?<=\ba )([A-Z][a-z]+) (?=an\b)"), r"\1"),
            (re.compile(r"(?:(?<=, )|(?<=\band ))([A-Z][a-z]+) (?=is[,.])"), r"\1"),
            # [[Bush]]'s, [[United States]]' and [[US]]-based: the space went before the suffix.
            # (Not after "on": in "said on 's Inside Politics" the linked name itself was lost.)
            (re.compile(r"(?<=[A-Za-z]{3}) (?='s\b|' )"), ""),
            (re.compile(r"(?<=[A-Za-z]) (?=-[A-Za-z])"), ""),
            # …or moved after the link, gluing it to the word before: "itsMaine", "theTeamsters".
            (re.compile(r"\b(its|the)(?=[A-Z][a-z])"), r"\1 "),
            # An interwiki link [[w:Peter Costello]] kept its prefix.
            (re.compile(r"\bw:(?=[A-Z])"), ""),
        ),
    ),
    (
        "layout",
        (
            # "::" indents a quoted block in wikitext; the conversion glued it between two words.
            (re.compile(r"(?<=\S)::(?=\S)"), ": "),
            # The conversion took "U.S." before a linked office for a sentence end and broke the
            # paragraph there ("lobbying the U.S." / "House of Representatives to pass…"). A true
            # paragraph end before one opening with those words would be joined too (none here).
            (re.compile(r"(?<=\bU\.S\.)\n\n(?=President|Vice-President|House of Rep)"), " "),
        ),
    ),
)

# What a removal leaves behind: doubled or edge spaces, a space before punctuation, empty lines.
TIDY: tuple[Fix, ...] = (
    (re.compile(r" {2,}"), " "),
    (re.compile(r" +(?=[,.;:!?])"), ""),
    (re.compile(r"(?m)^ +| +$"), ""),
    (re.compile(r"\n{3,}"), "\n\n"),
)


def clean_text(text: str, counts: Counter[str] | None = None) -> str:
    """The text with every rule applied; ``counts`` (if given) gains each rule's number of fixes."""
    for name, fixes in RULES:
        for pattern, replacement in fixes:
            text, n = pattern.subn(replacement, text)
            if counts is not None and n:
                counts[name] += n
    for pattern, replacement in TIDY:
        text = pattern.sub(replacement, text)
    return text.strip()


def clean_file(source: Path, target: Path) -> None:
    """Rewrite the ``text`` of every article of ``source`` into ``target`` and print the counts."""
    fixes: Counter[str] = Counter()
    articles: Counter[str] = Counter()
    lines = []
    for line in source.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        found: Counter[str] = Counter()
        record["text"] = clean_text(record["text"], found)
        fixes.update(found)
        articles.update(found.keys())
        lines.append(json.dumps(record, ensure_ascii=False))
    target.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    for name, _ in RULES:
        print(f"{name}: {fixes[name]} fixes in {articles[name]} articles")
    print(f"{len(lines)} articles written to {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source", type=Path, help="a Wikinews JSONL file")
    parser.add_argument("-o", "--output", type=Path, help="where to write (default: in place)")
    args = parser.parse_args()
    clean_file(args.source, args.output or args.source)


if __name__ == "__main__":
    main()
