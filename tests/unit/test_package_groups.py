"""Package group patterns, matching, the hierarchy, INHERIT resolution and the combination with package-level
origin controls (coffer.core.packages.package_groups, package_group_origins): pure functions."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coffer.core.packages.package_group_origins import GroupRef, combine, resolve, rules_for
from coffer.core.packages.package_groups import (
    NEW_GROUP_MODES,
    ROOT,
    ROOT_MODES,
    GroupPattern,
    PackageGroup,
    RestrictionMode,
    RestrictionType,
    ancestors,
    children_of,
    most_specific,
    parent_of,
    parse_pattern,
    variation_key,
)
from coffer.core.shared.arns import package_group_arn
from coffer.core.shared.errors import ValidationError
from tests.conftest import ManualClock
from tests.unit.package_services import deps_on

# --- parsing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("/*", ROOT),
        ("/npm/*", GroupPattern("npm")),
        ("/maven/com.anycompany~", GroupPattern("maven", "com.anycompany", None, prefix=True)),
        ("/npm/space/*", GroupPattern("npm", "space")),
        ("/npm/space/anycompany-ui~", GroupPattern("npm", "space", "anycompany-ui", prefix=True)),
        (
            "/maven/org.apache.logging.log4j/log4j-core$",
            GroupPattern("maven", "org.apache.logging.log4j", "log4j-core"),
        ),
        ("/pypi//requests$", GroupPattern("pypi", "", "requests")),
        ("/npm//react$", GroupPattern("npm", "", "react")),
        ("/pypi//*", GroupPattern("pypi", "")),
    ],
)
def test_the_allowed_shapes_parse_and_round_trip(text: str, parsed: GroupPattern) -> None:
    assert parse_pattern(text) == parsed
    assert parsed.text == text


@pytest.mark.parametrize(
    ("given_text", "canonical"),
    [
        ("/pypi//My_Package$", "/pypi//my-package$"),
        ("/pypi//Foo.Bar~", "/pypi//foo-bar~"),
        ("/pypi//zope..Interface$", "/pypi//zope-interface$"),
        ("/npm//React$", "/npm//React$"),  # npm names are kept as given
    ],
)
def test_names_are_normalized_per_format(given_text: str, canonical: str) -> None:
    assert parse_pattern(given_text).text == canonical


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("npm/*", "starts with '/'"),
        ("/npm/foo", "ends with"),
        ("/", "2 to 520"),
        ("/" + "a" * 520 + "$", "2 to 520"),
        ("/npm*", "must follow a '/'"),
        ("/npm/a/b/*", "'*' may follow the format or the namespace only"),
        ("/npm/a/b/c$", "at most three components"),
        ("/npm$", "a format is matched with '*'"),
        ("/npm/space$", "'$' needs a name"),
        ("/npm/~", "non-empty namespace"),
        ("/npm/space/~", "non-empty name"),
        ("/rpm/*", "unknown package format 'rpm'"),
        ("/pypi/ns/requests$", "pypi packages have no namespace"),
        ("/maven//log4j$", "maven packages have a namespace"),
        ("/npm/sp*ce/*", "not allowed"),
        ("/npm/space/a$b$", "not allowed"),
        ("/npm/space/a b$", "not allowed"),
    ],
)
def test_invalid_patterns_say_what_is_wrong(bad: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_pattern(bad)
    assert says in caught.value.message
    assert repr(bad) in caught.value.message


_component = st.text(alphabet="abcXYZ09-._@", min_size=1, max_size=8)
_patterns = st.one_of(
    st.just(ROOT),
    st.builds(GroupPattern, st.sampled_from(["npm", "generic"])),
    st.builds(GroupPattern, st.sampled_from(["npm", "generic"]), _component, st.none(), st.booleans()),
    st.builds(GroupPattern, st.sampled_from(["npm", "generic"]), _component, _component, st.booleans()),
)


@given(_patterns)
def test_any_pattern_round_trips_through_its_text(pattern: GroupPattern) -> None:
    assert parse_pattern(pattern.text) == pattern


def test_the_arn_encodes_the_pattern() -> None:
    assert package_group_arn("us-east-1", "111122223333", "acme", "/*") == (
        "arn:aws:codeartifact:us-east-1:111122223333:package-group/acme/%2A"
    )
    assert package_group_arn("us-east-1", "111122223333", "acme", "/npm/space/ui~").endswith(
        ":package-group/acme/npm/space/ui~"
    )
    assert package_group_arn("r", "1", "d", "/pypi//a$").endswith(":package-group/d/pypi//a%24")


# --- matching --------------------------------------------------------------------------------------------


def group(
    pattern: str, modes: Mapping[RestrictionType, RestrictionMode] | None = None, **allowed: tuple[str, ...]
) -> PackageGroup:
    text = parse_pattern(pattern).text
    default = ROOT_MODES if text == "/*" else NEW_GROUP_MODES
    return PackageGroup(
        domain_owner="111122223333",
        domain_name="acme",
        pattern=text,
        arn=package_group_arn("us-east-1", "111122223333", "acme", text),
        created_time=1.0,
        modes={**default, **(modes or {})},
        allowed={k: v for k, v in allowed.items()},  # type: ignore[misc]
    )


@pytest.mark.parametrize(
    ("pattern", "coords", "expected"),
    [
        ("/*", ("pypi", None, "anything"), "STRONG"),
        ("/npm/*", ("npm", "space", "x"), "STRONG"),
        ("/npm/*", ("pypi", None, "x"), None),
        ("/npm/sp~", ("npm", "space", "x"), "STRONG"),
        ("/npm/sp~", ("npm", "other", "x"), None),
        ("/npm/space/*", ("npm", "space", "x"), "STRONG"),
        ("/npm/space/*", ("npm", "spaces", "x"), None),
        ("/npm/space/ui~", ("npm", "space", "ui-kit"), "STRONG"),
        ("/npm/space/ui~", ("npm", "space", "u"), None),
        ("/npm/space/ui$", ("npm", "space", "ui"), "STRONG"),
        ("/npm/space/ui$", ("npm", "space", "ui-kit"), None),
        ("/npm//react$", ("npm", None, "react"), "STRONG"),
        ("/pypi//requests$", ("pypi", None, "requests"), "STRONG"),
        # variations: case and runs of -._ in the namespace or the name
        ("/npm//react$", ("npm", None, "React"), "WEAK"),
        ("/npm/space/ui-kit$", ("npm", "space", "UI_Kit"), "WEAK"),
        ("/npm/space/ui-kit$", ("npm", "space", "ui.-kit"), "WEAK"),
        ("/npm/Space/*", ("npm", "space", "x"), "WEAK"),
        ("/npm/space/ui-~", ("npm", "space", "UI.core"), "WEAK"),
        ("/maven/com.anycompany~", ("maven", "com-anycompany.tools", "x"), "WEAK"),
        ("/npm//react$", ("npm", None, "reactt"), None),
        ("/npm/space/ui$", ("npm", "space2", "ui"), None),
    ],
)
def test_match_is_strong_weak_or_none(pattern: str, coords: tuple[str, str | None, str], expected: str | None) -> None:
    assert parse_pattern(pattern).match(*coords) == expected


@given(st.text(alphabet="abcAB-._", min_size=1, max_size=10))
def test_a_variation_of_a_name_matches_weakly_or_strongly(name: str) -> None:
    pattern = GroupPattern("npm", "", variation_key(name))
    kind = pattern.match("npm", None, name)
    assert kind == ("STRONG" if name == variation_key(name) else "WEAK")


def test_the_most_specific_group_wins() -> None:
    groups = [group(p) for p in ("/*", "/npm/*", "/npm/sp~", "/npm/space/*", "/npm/space/ui~", "/npm/space/ui-kit$")]
    pick = lambda *c: most_specific(groups, *c)  # noqa: E731
    assert pick("pypi", None, "x") == (groups[0], "STRONG")
    assert pick("npm", None, "react") == (groups[1], "STRONG")
    assert pick("npm", "spx", "a") == (groups[2], "STRONG")
    assert pick("npm", "space", "a") == (groups[3], "STRONG")
    assert pick("npm", "space", "ui") == (groups[4], "STRONG")
    assert pick("npm", "space", "ui-kit") == (groups[5], "STRONG")
    # a variation of the most specific pattern belongs to it, weakly (it does not fall back to a strong parent)
    assert pick("npm", "space", "UI_Kit") == (groups[5], "WEAK")


def test_a_longer_prefix_is_more_specific_and_strong_wins_a_tie() -> None:
    groups = [
        group("/*"),
        group("/npm/space/u~"),
        group("/npm/space/ui~"),
        group("/npm//React$"),
        group("/npm//react$"),
    ]
    assert most_specific(groups, "npm", "space", "ui-kit") == (groups[2], "STRONG")
    assert most_specific(groups, "npm", None, "React") == (groups[3], "STRONG")
    assert most_specific(groups, "npm", None, "react") == (groups[4], "STRONG")
    weak = most_specific(groups, "npm", None, "REACT")
    assert weak is not None and weak[1] == "WEAK" and weak[0] in (groups[3], groups[4])


# --- hierarchy -------------------------------------------------------------------------------------------


def test_parents_are_the_most_specific_container() -> None:
    patterns = ["/*", "/npm/*", "/npm/sp~", "/npm/space/*", "/npm/space/ui~", "/npm/space/ui-kit$", "/pypi//req~"]
    groups = [group(p) for p in patterns]
    parents = {g.pattern: (p.pattern if (p := parent_of(groups, g.pattern)) else None) for g in groups}
    assert parents == {
        "/*": None,
        "/npm/*": "/*",
        "/npm/sp~": "/npm/*",
        "/npm/space/*": "/npm/sp~",
        "/npm/space/ui~": "/npm/space/*",
        "/npm/space/ui-kit$": "/npm/space/ui~",
        "/pypi//req~": "/*",
    }
    assert [g.pattern for g in children_of(groups, "/*")] == ["/npm/*", "/pypi//req~"]
    assert [g.pattern for g in children_of(groups, "/npm/space/*")] == ["/npm/space/ui~"]
    assert children_of(groups, "/npm/space/ui-kit$") == []
    assert [g.pattern for g in ancestors(groups, "/npm/space/ui-kit$")] == [
        "/npm/space/ui~",
        "/npm/space/*",
        "/npm/sp~",
        "/npm/*",
        "/*",
    ]


def test_a_deleted_middle_group_hands_its_children_to_its_parent() -> None:
    groups = [group(p) for p in ("/*", "/npm/*", "/npm/space/ui$")]
    assert parent_of(groups, "/npm/space/ui$") == groups[1]
    assert parent_of(groups[::2], "/npm/space/ui$") == groups[0]


@given(_patterns, _patterns)
def test_containment_agrees_with_matching(a: GroupPattern, b: GroupPattern) -> None:
    """If a contains b, any package b matches strongly is matched by a (checked on b's own coordinates)."""
    if a.contains(b) and b.format is not None and b.namespace is not None:
        name = b.name or "x"
        assert a.match(b.format, b.namespace, name) == "STRONG" or (b.name is None and a.name is not None)
        assert a.specificity < b.specificity


# --- origin restrictions ---------------------------------------------------------------------------------


def test_inherit_takes_the_first_ancestor_that_decides() -> None:
    root = group("/*", {"PUBLISH": "BLOCK"})
    npm = group("/npm/*", {"EXTERNAL_UPSTREAM": "ALLOW_SPECIFIC_REPOSITORIES"}, EXTERNAL_UPSTREAM=("ext",))
    ui = group("/npm/space/ui$", {"INTERNAL_UPSTREAM": "BLOCK"})
    groups = [root, npm, ui]
    resolved = resolve(ui, groups)
    assert resolved["PUBLISH"].mode == "INHERIT"
    assert resolved["PUBLISH"].effective_mode == "BLOCK"
    assert resolved["PUBLISH"].inherited_from == GroupRef.of(root)
    assert resolved["EXTERNAL_UPSTREAM"].effective_mode == "ALLOW_SPECIFIC_REPOSITORIES"
    assert resolved["EXTERNAL_UPSTREAM"].inherited_from == GroupRef.of(npm)
    assert resolved["EXTERNAL_UPSTREAM"].repositories_count == 0  # the group's own list
    assert resolved["EXTERNAL_UPSTREAM"].effective_repositories == {"ext"}
    assert resolved["INTERNAL_UPSTREAM"].mode == resolved["INTERNAL_UPSTREAM"].effective_mode == "BLOCK"
    assert resolved["INTERNAL_UPSTREAM"].inherited_from is None
    assert resolve(npm, groups)["EXTERNAL_UPSTREAM"].repositories_count == 1


def test_rules_allow_block_and_specific_repositories() -> None:
    root = group("/*")
    npm = group(
        "/npm/*", {"PUBLISH": "ALLOW_SPECIFIC_REPOSITORIES", "EXTERNAL_UPSTREAM": "BLOCK"}, PUBLISH=("internal",)
    )
    rules = rules_for([root, npm], "npm", None, "react", root)
    assert rules.group == GroupRef.of(npm) and rules.association == "STRONG"
    assert rules.allows("PUBLISH", "internal") and not rules.allows("PUBLISH", "other")
    assert not rules.allows("EXTERNAL_UPSTREAM", "internal")
    assert rules.allows("INTERNAL_UPSTREAM", "any")  # inherited ALLOW from the root
    assert rules.decided_by("INTERNAL_UPSTREAM") == GroupRef.of(root)
    assert rules.decided_by("PUBLISH") == GroupRef.of(npm)
    # other formats fall to the root
    assert rules_for([root, npm], "pypi", None, "x", root).allows("EXTERNAL_UPSTREAM", "r")


def test_a_virtual_root_answers_when_the_domain_stored_none() -> None:
    root = group("/*")
    rules = rules_for([], "pypi", None, "x", root)
    assert rules.group == GroupRef.of(root)
    assert all(rules.allows(r, "repo") for r in ("PUBLISH", "EXTERNAL_UPSTREAM", "INTERNAL_UPSTREAM"))


def test_a_weak_association_blocks_every_origin() -> None:
    root = group("/*")
    react = group("/npm//react$", {"PUBLISH": "ALLOW", "EXTERNAL_UPSTREAM": "ALLOW", "INTERNAL_UPSTREAM": "ALLOW"})
    rules = rules_for([root, react], "npm", None, "React", root)
    assert rules.association == "WEAK" and rules.group == GroupRef.of(react)
    assert not any(rules.allows(r, "repo") for r in ("PUBLISH", "EXTERNAL_UPSTREAM", "INTERNAL_UPSTREAM"))
    assert rules_for([root, react], "npm", None, "react", root).allows("PUBLISH", "repo")


@pytest.mark.parametrize(
    ("group_mode", "package_publish", "package_upstream", "restriction", "allowed", "blocked_by"),
    [
        ("ALLOW", "ALLOW", "ALLOW", "PUBLISH", True, None),
        ("ALLOW", "BLOCK", "ALLOW", "PUBLISH", False, "package"),
        ("BLOCK", "ALLOW", "ALLOW", "PUBLISH", False, "package-group"),
        ("BLOCK", "BLOCK", "ALLOW", "PUBLISH", False, "package"),
        ("ALLOW", "ALLOW", "BLOCK", "EXTERNAL_UPSTREAM", False, "package"),
        ("ALLOW", "ALLOW", "BLOCK", "INTERNAL_UPSTREAM", False, "package"),
        ("ALLOW", "BLOCK", "ALLOW", "EXTERNAL_UPSTREAM", True, None),
        ("BLOCK", "ALLOW", "ALLOW", "INTERNAL_UPSTREAM", False, "package-group"),
        ("ALLOW", None, None, "PUBLISH", True, None),
        ("BLOCK", None, None, "EXTERNAL_UPSTREAM", False, "package-group"),
    ],
)
def test_combine_block_wins_over_allow(
    group_mode: RestrictionMode,
    package_publish: str | None,
    package_upstream: str | None,
    restriction: RestrictionType,
    allowed: bool,
    blocked_by: str | None,
) -> None:
    root = group("/*", dict.fromkeys(("PUBLISH", "EXTERNAL_UPSTREAM", "INTERNAL_UPSTREAM"), group_mode))  # type: ignore[arg-type]
    rules = rules_for([root], "pypi", None, "x", root)
    decision = combine(rules, restriction, "repo", package_publish, package_upstream)  # type: ignore[arg-type]
    assert (decision.allowed, decision.blocked_by) == (allowed, blocked_by)
    assert decision.group == GroupRef.of(root)


def test_combine_with_allow_specific_repositories() -> None:
    root = group("/*")
    pypi = group("/pypi/*", {"PUBLISH": "ALLOW_SPECIFIC_REPOSITORIES"}, PUBLISH=("internal",))
    rules = rules_for([root, pypi], "pypi", None, "x", root)
    assert combine(rules, "PUBLISH", "internal", "ALLOW", "ALLOW").allowed
    assert combine(rules, "PUBLISH", "other", "ALLOW", "ALLOW").blocked_by == "package-group"
    assert combine(rules, "PUBLISH", "internal", "BLOCK", "ALLOW").blocked_by == "package"


# --- the service's enforcement API: origin_rules, cached and invalidated -----------------------------------


class CountingStore:
    """Delegates to the real store, counting the group listings (what origin_rules must not repeat)."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.listings = 0

    def list_package_groups(self, owner: str, domain: str) -> object:
        self.listings += 1
        return self._inner.list_package_groups(owner, domain)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


@pytest.fixture
def service_env(store: object) -> tuple[object, CountingStore, ManualClock]:
    import json as _json

    from coffer.core.codeartifact.resources import Domain, Repository
    from coffer.core.identity.callers import Caller
    from coffer.core.packages.package_group_service import PackageGroupService
    from coffer.core.policy import parse_policy
    from coffer.core.shared.arns import domain_arn, repository_arn, user_arn

    owner, region = "111122223333", "us-east-1"
    clock = ManualClock()
    counting = CountingStore(store)
    deps = deps_on(counting, clock, cache_ttl=1.0)
    store.create_domain(  # type: ignore[attr-defined]
        Domain(name="acme", owner=owner, arn=domain_arn(region, owner, "acme"), created_time=0.0, encryption_key="k"),
        {},
    )
    for repo in ("internal", "mirror"):
        store.create_repository(  # type: ignore[attr-defined]
            Repository("acme", owner, repo, repository_arn(region, owner, "acme", repo), owner, 0.0), {}
        )
    admin = Caller(
        account_id=owner,
        arn=user_arn(owner, "admin"),
        user_id="AIDAADMIN",
        user_name="admin",
        kind="user",
        access_key_id="AKIAADMIN",
        policies=(
            parse_policy(
                _json.dumps(
                    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
                ),
                "identity",
            ),
        ),
    )
    return (PackageGroupService(deps), admin), counting, clock


def test_origin_rules_are_cached_and_invalidated_by_changes(
    service_env: tuple[object, CountingStore, ManualClock],
) -> None:
    (svc, admin), counting, clock = service_env  # type: ignore[misc]
    owner = "111122223333"
    rules = svc.origin_rules(owner, "acme", "pypi", None, "Acme_Core")
    assert rules.group.pattern == "/*" and rules.allows("PUBLISH", "internal")
    svc.origin_rules(owner, "acme", "pypi", None, "other")
    assert counting.listings == 1  # one read for the domain within the TTL
    svc.create(admin, "acme", None, "/pypi//acme~", None, None)
    svc.update_origin(
        admin,
        "acme",
        None,
        "/pypi//acme~",
        {"PUBLISH": "ALLOW_SPECIFIC_REPOSITORIES", "EXTERNAL_UPSTREAM": "BLOCK"},
        [("PUBLISH", "internal")],
        [],
    )
    rules = svc.origin_rules(owner, "acme", "pypi", None, "Acme_Core")  # the name is normalized (PEP 503)
    assert rules.group.pattern == "/pypi//acme~" and rules.association == "STRONG"
    assert rules.allows("PUBLISH", "internal") and not rules.allows("PUBLISH", "mirror")
    assert not rules.allows("EXTERNAL_UPSTREAM", "internal")
    assert rules.allows("INTERNAL_UPSTREAM", "mirror") and rules.decided_by("INTERNAL_UPSTREAM").pattern == "/*"
    # a change made by another process (straight into the store) shows after the TTL
    counting._inner.update_package_group_origin(  # type: ignore[attr-defined]
        owner, "acme", "/pypi//acme~", modes={"PUBLISH": "BLOCK"}, add=[], remove=[]
    )
    assert svc.origin_rules(owner, "acme", "pypi", None, "acme-core").allows("PUBLISH", "internal")
    clock.now += 1.5
    assert not svc.origin_rules(owner, "acme", "pypi", None, "acme-core").allows("PUBLISH", "internal")
    # the root, once changed, is stored and governs everything else
    svc.update_origin(admin, "acme", None, "/*", {"EXTERNAL_UPSTREAM": "BLOCK"}, [], [])
    assert not svc.origin_rules(owner, "acme", "npm", "space", "ui").allows("EXTERNAL_UPSTREAM", "mirror")
    # an unknown domain answers the default root (the caller's own checks refuse the domain)
    assert svc.origin_rules(owner, "nope", "npm", None, "x").allows("PUBLISH", "r")


def test_origin_rules_of_a_weak_match_block(service_env: tuple[object, CountingStore, ManualClock]) -> None:
    (svc, admin), _, _ = service_env  # type: ignore[misc]
    svc.create(admin, "acme", None, "/npm//react$", None, None)
    svc.update_origin(admin, "acme", None, "/npm//react$", {"PUBLISH": "ALLOW"}, [], [])
    weak = svc.origin_rules("111122223333", "acme", "npm", None, "React")
    assert weak.association == "WEAK" and not weak.allows("PUBLISH", "internal")
    assert svc.origin_rules("111122223333", "acme", "npm", None, "react").allows("PUBLISH", "internal")
