"""Settings tags: short, stable hashes that name checkpoints after the settings that made them.

The :class:`~perceptual_compression.training.Trainer` resumes any checkpoint it finds at its path, so a checkpoint
named without its settings would hand a run with other settings (steps, initialisation, data, loss) the weights of
an earlier one. Training configurations therefore name their checkpoints with :func:`settings_tag`: 10 hex digits of
the SHA-1 of their fields as sorted JSON, without the fields that do not change the trained weights (each config
lists those beside itself, e.g. ``pim_training.UNTAGGED_FIELDS``). Any field added later is tagged by default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any


def settings_hash(payload: Mapping[str, Any]) -> str:
    """10 hex digits of the SHA-1 of ``payload`` as JSON with sorted keys (non-JSON values by ``str``)."""
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:10]


def settings_tag(config: Any, untagged: tuple[str, ...] = (), extra: Mapping[str, Any] | None = None) -> str:
    """:func:`settings_hash` of the dataclass ``config``'s fields (``dataclasses.asdict``) except ``untagged``, with
    ``extra`` entries added (settings that live outside the config, such as the label of the loss actually used)."""
    unknown = set(untagged) - {f.name for f in dataclasses.fields(config)}
    if unknown:
        raise ValueError(f"untagged fields {sorted(unknown)} are not fields of {type(config).__name__}")
    payload = {k: v for k, v in dataclasses.asdict(config).items() if k not in untagged}
    return settings_hash({**payload, **(extra or {})})
