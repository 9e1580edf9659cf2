"""training.tags: the settings hashes that name checkpoints."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest

from perceptual_compression.training.tags import settings_hash, settings_tag


@dataclass(frozen=True)
class _Config:
    steps: int = 100
    lr: float = 1e-3
    log_every: int = 10
    widths: tuple[int, ...] = (4, 8)


def test_settings_hash_is_the_sha1_of_sorted_json():
    want = hashlib.sha1(b'{"a": 1, "b": [2, 3]}').hexdigest()[:10]
    assert settings_hash({"b": [2, 3], "a": 1}) == want  # key order does not matter
    assert settings_hash({"p": _Config}) == hashlib.sha1(('{"p": "%s"}' % _Config).encode()).hexdigest()[:10]


def test_settings_tag_hashes_every_field_but_the_untagged_ones():
    base = settings_tag(_Config(), ("log_every",))
    assert base == settings_hash({"steps": 100, "lr": 1e-3, "widths": [4, 8]})
    assert settings_tag(_Config(log_every=1), ("log_every",)) == base  # an untagged field leaves it alone
    assert len({base, settings_tag(_Config(steps=200), ("log_every",)), settings_tag(_Config(lr=2e-3), ("log_every",)),
                settings_tag(_Config(widths=(4, 16)), ("log_every",))}) == 4
    assert settings_tag(_Config(), ("log_every",), {"loss": "MSE"}) == settings_hash(
        {"steps": 100, "lr": 1e-3, "widths": [4, 8], "loss": "MSE"})
    with pytest.raises(ValueError, match=r"\['log_evry'\] are not fields of _Config"):
        settings_tag(_Config(), ("log_evry",))  # a misspelt untagged field would otherwise be tagged silently
