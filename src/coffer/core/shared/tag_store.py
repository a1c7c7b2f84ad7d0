"""The tag store port: tags on any ARN, shared by IAM entities and CodeArtifact resources."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol


class TagStore(Protocol):
    def get_tags(self, resource_arn: str) -> dict[str, str]: ...

    def tag_resource(self, resource_arn: str, tags: Mapping[str, str]) -> None:
        """Adds or overwrites keys."""
        ...

    def untag_resource(self, resource_arn: str, keys: Sequence[str]) -> None: ...
