"""The checker's incremental machinery: what makes re-checking after an edit cheap.

Three memos, each replaying what a fresh check would produce, behind two small APIs: the graph
builder's `mark` / `since` / `append` (`nndsl.check.builder`) and the reporter's transactions
(`nndsl.check.report`). Nothing here changes what a check says; `analyze(..., reuse=False)` is
the reference they are tested against (tests/ide/test_incremental.py).

- `items`: a top-level item (block, model, data source, train section) whose inputs are
  unchanged is replayed whole (`CheckMemo`, `ItemMemo`);
- `instances`: a block instance with the same definition, arguments and input types is
  replayed into the caller's graph (`InstanceMemo`);
- `models`: a model whose own text is unchanged is replayed around its block calls
  (`Composite`);
- `keys`: what each can depend on, as hashable keys, and moving results by an edit above them.
"""

from nndsl.check.memo.instances import InstanceMemo, Site
from nndsl.check.memo.items import CheckMemo, ItemMemo
from nndsl.check.memo.keys import DefinitionKeys, Shift, instance_key
from nndsl.check.memo.models import Composite, CompositeRecorder, replay

__all__ = [
    "CheckMemo",
    "Composite",
    "CompositeRecorder",
    "DefinitionKeys",
    "InstanceMemo",
    "ItemMemo",
    "Shift",
    "Site",
    "instance_key",
    "replay",
]
