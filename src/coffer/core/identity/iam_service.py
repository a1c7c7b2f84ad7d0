"""IAM: users, groups, access keys, roles, inline and managed policies, attachments, with IAM's error codes, and
the accounts with their ``admin`` user. Every IAM operation authorizes its caller with ``iam:<Action>`` on the
entity's ARN (``*`` for listings).

The one user-administration API: the query wire (``coffer.aws.handlers.iam``), the first start
(``coffer.app.bootstrap``) and ``coffer admin`` all call this service; the last two act as the account's root
user, which holds every permission in its own account. The wire validates input against botocore's model before
an operation gets here (``coffer admin`` validates its arguments the same way); the parts check what the model
does not express: quotas, cross-field rules, existence.
"""

from __future__ import annotations

import re

from coffer.core.identity.callers import root_caller
from coffer.core.identity.iam_errors import EntityAlreadyExistsError, InvalidInputError
from coffer.core.identity.iam_groups import GroupAdmin
from coffer.core.identity.iam_models import AccessKey, Account
from coffer.core.identity.iam_policies import PolicyAdmin
from coffer.core.identity.iam_roles import RoleAdmin
from coffer.core.identity.iam_users import UserAdmin
from coffer.core.identity.managed_policies import ensure_aws_managed_policies

ADMIN_USER = "admin"
ADMIN_POLICY_NAME = "AdministratorAccess"
ADMIN_POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
_ACCOUNT_ID = re.compile(r"\d{12}")


class IamService(UserAdmin, GroupAdmin, RoleAdmin, PolicyAdmin):
    # --- accounts and AWS managed policies (operator actions, not IAM API operations) --------------------------

    def ensure_aws_managed_policies(self) -> list[str]:
        return ensure_aws_managed_policies(self._store, self._clock)

    def ensure_account(self, account_id: str) -> Account:
        existing = self._store.get_account(account_id)
        if existing is not None:
            return existing
        account = Account(account_id=account_id, created_at=self._clock())
        self._store.create_account(account)
        return account

    def bootstrap_admin(self, account_id: str) -> AccessKey | None:
        """Make sure the account exists with its ``admin`` user with full access, made by the account's root user.
        Returns the admin's new access key when the user was created now (the caller writes it to the credentials
        file), else None."""
        self.ensure_account(account_id)
        if self._store.get_user(account_id, ADMIN_USER) is not None:
            return None
        root = root_caller(account_id, "")
        self.create_user(root, ADMIN_USER)
        self.put_inline_policy(root, "user", ADMIN_USER, ADMIN_POLICY_NAME, ADMIN_POLICY)
        return self.create_access_key(root, ADMIN_USER)

    def create_account(self, account_id: str) -> AccessKey:
        """A new account with its own ``admin`` user (AdministratorAccess); returns the admin's access key.
        An operator action (``coffer admin create-account``), not an IAM API operation."""
        if not _ACCOUNT_ID.fullmatch(account_id):
            raise InvalidInputError(f"Account id {account_id!r} must be 12 digits.")
        if self._store.get_account(account_id) is not None:
            raise EntityAlreadyExistsError(f"Account {account_id} already exists.")
        key = self.bootstrap_admin(account_id)
        if key is None:  # created by someone else at the same moment
            raise EntityAlreadyExistsError(f"Account {account_id} already exists.")
        self._changed()
        return key
