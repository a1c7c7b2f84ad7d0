"""AWS managed policies Coffer ships, with the contents AWS publishes for them (AWS Managed Policy Reference).

They live under account ``aws`` (``arn:aws:iam::aws:policy/NAME``) and are created or brought up to date at every
start by :func:`ensure_aws_managed_policies`. Their documents keep the statement order and layout of AWS's
published text, so ``GetPolicyVersion`` answers the same statements AWS answers.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from coffer.core.identity.iam_models import AWS_MANAGED, ManagedPolicy
from coffer.core.identity.identity_store import IamStore
from coffer.core.policy import parse_policy
from coffer.core.shared.clock import Clock
from coffer.core.shared.errors import ConflictError

MAX_POLICY_VERSIONS = 5


@dataclass(frozen=True)
class AwsManagedPolicy:
    name: str
    description: str
    created_at: float  # AWS's creation time of the policy (epoch seconds)
    document: str
    path: str = "/"

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{AWS_MANAGED}:policy{self.path}{self.name}"

    @property
    def policy_id(self) -> str:
        """Stable across installations: derived from the name."""
        digest = base64.b32encode(hashlib.sha256(f"aws-managed:{self.name}".encode()).digest()).decode()
        return "ANPA" + digest[:17]


def _doc(statements: list[dict[str, object]]) -> str:
    """AWS's published layout: two-space indent with a space before each colon."""
    text = json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)
    return text.replace('": ', '" : ')


_BEARER_TOKEN: dict[str, object] = {
    "Effect": "Allow",
    "Action": "sts:GetServiceBearerToken",
    "Resource": "*",
    "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
}

ADMINISTRATOR_ACCESS = AwsManagedPolicy(
    name="AdministratorAccess",
    description="Provides full access to AWS services and resources.",
    created_at=1423247986.0,  # 2015-02-06T18:39:46Z
    document=_doc([{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
)

CODEARTIFACT_ADMIN_ACCESS = AwsManagedPolicy(
    name="AWSCodeArtifactAdminAccess",
    description="Provides full access to AWS CodeArtifact via the AWS Management Console.",
    created_at=1592351580.0,  # 2020-06-16T23:53:00Z
    document=_doc([{"Action": ["codeartifact:*"], "Effect": "Allow", "Resource": "*"}, _BEARER_TOKEN]),
)

CODEARTIFACT_READ_ONLY_ACCESS = AwsManagedPolicy(
    name="AWSCodeArtifactReadOnlyAccess",
    description="Provides read only access to AWS CodeArtifact via the AWS Management Console.",
    created_at=1593120180.0,  # 2020-06-25T21:23:00Z
    document=_doc(
        [
            {
                "Action": [
                    "codeartifact:Describe*",
                    "codeartifact:Get*",
                    "codeartifact:List*",
                    "codeartifact:ReadFromRepository",
                ],
                "Effect": "Allow",
                "Resource": "*",
            },
            _BEARER_TOKEN,
        ]
    ),
)

AWS_MANAGED_POLICIES: tuple[AwsManagedPolicy, ...] = (
    ADMINISTRATOR_ACCESS,
    CODEARTIFACT_ADMIN_ACCESS,
    CODEARTIFACT_READ_ONLY_ACCESS,
)


def ensure_aws_managed_policies(store: IamStore, clock: Clock) -> list[str]:
    """Create the AWS managed policies that are missing and give a new default version to those whose contents
    changed (a newer Coffer ships AWS's newer text). Idempotent and safe when several processes start at once.
    Returns the ARNs created or updated."""
    changed: list[str] = []
    for spec in AWS_MANAGED_POLICIES:
        parse_policy(spec.document, "identity")  # a broken built-in policy must fail loudly, not at first use
        existing = store.get_managed_policy(spec.arn)
        if existing is None:
            policy = ManagedPolicy(
                account_id=AWS_MANAGED,
                name=spec.name,
                policy_id=spec.policy_id,
                default_version_id="v1",
                created_at=spec.created_at,
                updated_at=spec.created_at,
                path=spec.path,
                description=spec.description,
            )
            try:
                store.create_managed_policy(policy, spec.document)
            except ConflictError:
                continue  # another process created it at the same moment
            changed.append(spec.arn)
            continue
        current = store.get_policy_version(spec.arn, existing.default_version_id)
        if current is not None and current.document == spec.document:
            continue
        versions = store.list_policy_versions(spec.arn)
        if len(versions) >= MAX_POLICY_VERSIONS:
            oldest = min((v for v in versions if not v.is_default), key=lambda v: v.created_at, default=None)
            if oldest is not None:
                store.delete_policy_version(spec.arn, oldest.version_id)
        try:
            store.create_policy_version(spec.arn, spec.document, True, clock())
        except ConflictError:
            continue
        changed.append(spec.arn)
    return changed
