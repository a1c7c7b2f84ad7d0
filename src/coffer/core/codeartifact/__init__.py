"""CodeArtifact's services: domains, repositories, their permissions policies, tags and authorization tokens."""

from coffer.core.codeartifact.authorization_tokens import AuthorizationTokenService, IssuedToken
from coffer.core.codeartifact.deps import Deps
from coffer.core.codeartifact.domains import DomainService
from coffer.core.codeartifact.repositories import RepositoryService
from coffer.core.codeartifact.tags import TagService

__all__ = [
    "AuthorizationTokenService",
    "Deps",
    "DomainService",
    "IssuedToken",
    "RepositoryService",
    "TagService",
]
