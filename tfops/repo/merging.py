"""Override files merged the way Terraform merges them, before anyone reads a block.

Terraform loads a root's ordinary files, then its override files (`override.tf`,
`*_override.tf`, and the `.tf.json` forms) in lexical order; each block in an override
file is merged into the block with the same type and labels: its attributes replace the
original's, its nested blocks replace the original's blocks of that type. So a
`prod_back_end_override.tf` that sets `source` decides what prod runs, and the pins gate
and `tfops modules` must see that source, at that file and line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from tfops.repo.hcl import Block


def merge_overrides(
    blocks: Iterable[tuple[Path, Block]], overrides: Iterable[tuple[Path, Block]]
) -> list[tuple[Path, Block]]:
    """`blocks` (file, block) with every matching override block merged in, in order."""
    by_key: dict[tuple[str, tuple[str, ...]], list[tuple[Path, Block]]] = {}
    for path, block in overrides:
        by_key.setdefault(block.key, []).append((path, block))
    merged = []
    for path, block in blocks:
        for override_path, override in by_key.get(block.key, ()):
            block = merge_block(block, override, override_path)
        merged.append((path, block))
    return merged


def merge_block(block: Block, override: Block, override_path: Path) -> Block:
    """One override block over its original: what the override says wins."""
    set_here = dict.fromkeys(override.body, override_path)
    return replace(
        block,
        body={**block.body, **override.body},
        attr_lines={**block.attr_lines, **override.attr_lines},
        attr_files={**block.attr_files, **set_here},
    )


def overridden_keys(overrides: Iterable[Block]) -> set[tuple[str, tuple[str, ...]]]:
    return {block.key for block in overrides}
