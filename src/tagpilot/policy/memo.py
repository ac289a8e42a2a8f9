"""One selection per (policy, tag list), shared by every policy object that would compute it again.

A daemon with many ImagePolicies over the same registry repository (one per environment, team or
cluster) evaluates the same policy over the same stored tag list once per ImagePolicy: with 10
policies per repository and 1,000 tags each, a round parsed every version 10 times. A pure policy
(`needs_metadata` False: Flux's kinds) picks the same tag from the same list every time, so its
`Selection` is kept under the policy's value and a digest of the list, and the other objects reuse it.

Why a digest and not the list: the memo must stay small. Each ImagePolicy reads its own copy of the
list from the store, so keeping lists as keys would hold a thousand strings per entry; a 16-byte
digest of the list's JSON text (unambiguous for any tag text) holds nothing of it. Entries are
bounded (least recently used first out), so a configuration with many distinct lists or policies
costs at most `max_entries` small entries. Failures (no tag admitted) are not kept: they are rare,
and their exception carries what `explain` asks for, which the memo never serves.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Hashable, Sequence

from tagpilot.policy.base import Policy
from tagpilot.policy.types import Selection

__all__ = ["SelectionMemo", "tags_digest"]


def tags_digest(tags: Sequence[str]) -> bytes:
    """A 16-byte digest of the list, order included, of a text no two lists share: "P" and the tags
    one a line when no tag holds a line break (a third of the JSON text's cost), else "J" and their
    JSON text."""
    text = "P" + "\n".join(tags)
    if text.count("\n") != max(len(tags) - 1, 0) or (len(tags) == 1 and not tags[0]):
        text = "J" + json.dumps(list(tags))  # a tag with a line break (or one empty tag): JSON
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class SelectionMemo:
    """`select(policy, tags)`: `policy.select(tags)`, computed once per policy value and tag list."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Hashable, bytes], Selection] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def select(self, policy: Policy, tags: Sequence[str]) -> Selection:
        """The winner among `tags`, as `policy.select(tags)` returns it (without verdicts). A policy
        that needs registry metadata, or is not hashable, is computed every time."""
        if policy.needs_metadata or not isinstance(policy, Hashable):
            return policy.select(tags)
        try:
            key = (policy, tags_digest(tags))
            hash(key)
        except TypeError:  # a policy whose value holds something unhashable: no sharing
            return policy.select(tags)
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            self.hits += 1
            return Selection(found.tag, found.value, None)
        self.misses += 1
        selection = policy.select(tags)
        self._entries[key] = Selection(selection.tag, selection.value, None)
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return selection
