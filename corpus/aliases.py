"""Other spellings of class names (data/classes/aliases.yaml) and known label-file faults.

A class name read from another file (an imported file, a user's class list) is matched
to a class list by `corpus.classes.match_key` first, then through the alias groups: the
Kinetics-400 classes that Kinetics-600/700 renamed and the spelling variants seen in
released text. `hmdb_swapped_ids` recognises the copies of the HMDB-51 label file that
swap ids 20/21 and 44/45 against the official alphabetical order.
"""

from functools import cache

import yaml

from corpus.classes import ClassList, match_key
from corpus.errors import ClassListError
from corpus.paths import data_dir


@cache
def alias_groups() -> tuple[tuple[str, ...], ...]:
    """The spelling groups of data/classes/aliases.yaml, each as match keys."""
    path = data_dir() / "classes" / "aliases.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    groups = []
    for i, group in enumerate(data.get("groups", [])):
        spellings = group.get("spellings") if isinstance(group, dict) else None
        if not isinstance(spellings, list) or len(spellings) < 2 or not group.get("source"):
            raise ClassListError(f"alias table {path}: group {i} needs two or more "
                                 "`spellings` and a `source`")
        groups.append(tuple(dict.fromkeys(match_key(s) for s in spellings)))
    return tuple(groups)


def spelling_keys(name: str) -> set[str]:
    """The match keys of a name and of every spelling in its alias groups."""
    key = match_key(name)
    return {key}.union(*(g for g in alias_groups() if key in g))


def alias_index(class_list: ClassList) -> dict[str, str]:
    """match key of another spelling -> class name, for the classes of this list.

    A group applies when the list has exactly one of its spellings (as a name or label);
    a spelling that is itself a class of the list is never redirected."""
    own: dict[str, str] = {}
    for c in class_list.classes:
        own.setdefault(match_key(c.name), c.name)
        own.setdefault(match_key(c.label), c.name)
    index: dict[str, str] = {}
    for group in alias_groups():
        present = {own[k] for k in group if k in own}
        if len(present) != 1:
            continue
        (name,) = present
        for key in group:
            if key not in own:
                index[key] = name
    return index


# The official HMDB-51 order is plain alphabetical; the ActionCLIP-lineage label CSVs
# (X-CLIP's hmdb_51_labels.csv, tc-clip's labels/hmdb_51_labels.csv, …) swap two pairs.
_HMDB_SWAPS = {20: "kickball", 21: "kick", 44: "swordexercise", 45: "sword"}


def hmdb_swapped_ids(names_by_id: dict[int, str], class_list: ClassList) -> bool:
    """Whether names keyed by ids follow the swapped HMDB-51 order against this list:
    every id among 20/21/44/45 that the file names carries the swapped name, at least
    one such id is present, and the list itself has the official order there."""
    official = {c.class_id: match_key(c.name) for c in class_list.classes}
    if any(official.get(i) != k for i, k in
           {20: "kick", 21: "kickball", 44: "sword", 45: "swordexercise"}.items()):
        return False
    named = {i: match_key(n) for i, n in names_by_id.items() if i in _HMDB_SWAPS}
    return bool(named) and all(_HMDB_SWAPS[i] == k for i, k in named.items())


def class_list_order_note(class_list: ClassList) -> str | None:
    """A note when a user's class list is itself a swapped HMDB-51 copy."""
    by_id = {c.class_id: match_key(c.name) for c in class_list.classes}
    if all(by_id.get(i) == k for i, k in _HMDB_SWAPS.items()) and len(by_id) == 51:
        return (f"class list {class_list.path.name} numbers HMDB-51 with ids 20/21 and 44/45 "
                "swapped (kick ball=20, kick=21, sword exercise=44, sword=45) against the "
                "official alphabetical order; a file keyed by official ids maps those four "
                "classes wrongly")
    return None
