"""The .npmrc and .yarnrc.yml editors of ``coffer login --tool npm|pnpm|yarn`` (coffer.login.npmrc, .yarnrc): keys
are set where npm and yarn read them, every other line is kept, and a YAML layout the editor does not understand is
refused rather than guessed at. PyYAML (which the aws CLI brings) stands in for yarn's YAML parser."""

from __future__ import annotations

import copy
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from coffer.login import npmrc
from coffer.login.tools import LoginError, apply, plan_npm, plan_yarn
from coffer.login.yarnrc import YamlLayoutError, add_to_list, get_value, keys, set_values

yaml = pytest.importorskip("yaml")

ENDPOINT = "http://127.0.0.1:5080/npm/d/acme-111122223333/app/"
NERF = "//127.0.0.1:5080/npm/d/acme-111122223333/app/"

# --- .npmrc ----------------------------------------------------------------------------------------------------


def test_npmrc_replaces_the_first_line_drops_later_ones_and_keeps_the_rest() -> None:
    text = (
        "; comment\r\n"
        "registry = https://registry.npmjs.org/\r\n"
        "fund=false\r\n"
        f"{NERF}:_authToken=old\r\n"
        "registry=https://second.example/\r\n"
        "[section]\r\n"
        "registry=inside-a-section"
    )
    out = npmrc.set_npmrc_values(text, {"registry": ENDPOINT, npmrc.auth_token_key(ENDPOINT): "tok"})
    assert out == (
        "; comment\r\n"
        f"registry={ENDPOINT}\r\n"
        "fund=false\r\n"
        f"{NERF}:_authToken=tok\r\n"
        "[section]\r\n"
        "registry=inside-a-section"
    )


def test_npmrc_appends_missing_keys_before_any_section() -> None:
    out = npmrc.set_npmrc_values("a=1", {"registry": ENDPOINT})
    assert out == f"a=1\nregistry={ENDPOINT}\n"
    out = npmrc.set_npmrc_values("a=1\n[s]\nb=2\n", {"@acme:registry": ENDPOINT})
    assert out == f"a=1\n@acme:registry={ENDPOINT}\n[s]\nb=2\n"
    assert npmrc.set_npmrc_values("", {"k": "v"}) == "k=v\n"


@pytest.mark.parametrize("value", ["plain", "with#hash;semi\\back", " padded ", '"quoted"', "'single'", "a=b=c", ""])
def test_npmrc_values_read_back_as_npm_reads_them(value: str) -> None:
    out = npmrc.set_npmrc_values("x=1\n", {"key": value})
    assert npmrc.get_npmrc_value(out, "key") == value
    assert npmrc.get_npmrc_value(out, "x") == "1"


def test_npmrc_quoted_keys_match_and_line_breaks_are_refused() -> None:
    out = npmrc.set_npmrc_values('"registry"=https://x/\n', {"registry": ENDPOINT})
    assert out == f"registry={ENDPOINT}\n"
    with pytest.raises(npmrc.NpmrcError):
        npmrc.set_npmrc_values("", {"k": "a\nb"})


def test_scope_names() -> None:
    assert npmrc.scope_of("acme") == npmrc.scope_of("@acme") == "@acme"
    for bad in ("_x", ".x", "Ac", "a/b", "@", ""):
        with pytest.raises(npmrc.NpmrcError):
            npmrc.scope_of(bad)


def test_plan_npm_writes_0600_and_keeps_the_file(tmp_path: Path) -> None:
    path = tmp_path / ".npmrc"
    path.write_text("# mine\nsave-exact=true\n")
    plan = plan_npm(ENDPOINT, "tok", path=path)
    apply(plan, "tok")
    assert path.read_text() == f"# mine\nsave-exact=true\nregistry={ENDPOINT}\n{NERF}:_authToken=tok\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_npmrc_path_follows_npm_config_userconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from coffer.login.tools import npmrc_path

    monkeypatch.delenv("npm_config_userconfig", raising=False)
    monkeypatch.setenv("NPM_CONFIG_USERCONFIG", str(tmp_path / "upper"))
    assert npmrc_path() == tmp_path / "upper"
    monkeypatch.setenv("npm_config_userconfig", str(tmp_path / "lower"))
    assert npmrc_path() == tmp_path / "lower"
    monkeypatch.delenv("npm_config_userconfig")
    monkeypatch.delenv("NPM_CONFIG_USERCONFIG")
    assert npmrc_path() == Path(os.path.expanduser("~")) / ".npmrc"


# --- .yarnrc.yml: hand-written layouts -----------------------------------------------------------------------------

AUTH: dict[str, str | bool] = {"npmAuthToken": "tok", "npmAlwaysAuth": True}


def test_yarnrc_from_nothing() -> None:
    out = set_values("", (), {"npmRegistryServer": ENDPOINT})
    out = set_values(out, ("npmRegistries", NERF), AUTH)
    assert out == (
        f'npmRegistryServer: "{ENDPOINT}"\n'
        f'npmRegistries:\n  "{NERF}":\n    npmAuthToken: "tok"\n    npmAlwaysAuth: true\n'
    )
    assert yaml.safe_load(out) == {"npmRegistryServer": ENDPOINT, "npmRegistries": {NERF: {**AUTH}}}


def test_yarnrc_keeps_comments_block_scalars_and_layout() -> None:
    text = (
        "---\n"
        "# head\n"
        "nodeLinker: node-modules   # trailing\n"
        "npmRegistries:\n"
        "    //other.example/:\n"  # four-space indentation is kept for what is added beside it
        "        npmAuthToken: abc\n"
        "    # a comment inside\n"
        f"    '{NERF}':\n"
        "        npmAuthToken: old\n"
        "        note: |\n"
        "          text\n"
        "\n"
        "          # not a comment\n"
        "packageExtensions: {}\n"
        "\n"
        "# tail\n"
    )
    out = set_values(text, ("npmRegistries", NERF), AUTH)
    out = set_values(out, (), {"npmRegistryServer": ENDPOINT})
    assert out.startswith("---\n# head\nnodeLinker: node-modules   # trailing\n")
    assert "    # a comment inside\n" in out and "          # not a comment\n" in out and out.endswith("# tail\n")
    expected = yaml.safe_load(text)
    expected["npmRegistries"][NERF].update(AUTH)
    expected["npmRegistryServer"] = ENDPOINT
    assert yaml.safe_load(out) == expected
    assert "        npmAlwaysAuth: true\n        note: |\n" not in out  # added after the block scalar, not in it
    assert yaml.safe_load(out)["npmRegistries"][NERF]["note"] == "text\n\n# not a comment\n"


def test_yarnrc_inline_empty_and_null_mappings_become_blocks() -> None:
    for empty in ("{}", "null", "~", ""):
        out = set_values(f"npmScopes: {empty}\nother: 1\n".replace(": \n", ":\n"), ("npmScopes", "acme"), AUTH)
        assert yaml.safe_load(out) == {"npmScopes": {"acme": {**AUTH}}, "other": 1}, out


def test_yarnrc_crlf_and_no_final_newline() -> None:
    out = set_values("a: 1\r\nb: 2", (), {"c": "x"})
    assert out == 'a: 1\r\nb: 2\r\nc: "x"\r\n'


def test_yarnrc_replaces_a_nested_value_with_a_scalar() -> None:
    out = set_values("npmRegistryServer:\n  nested: x\nz: 1\n", (), {"npmRegistryServer": ENDPOINT})
    assert yaml.safe_load(out) == {"npmRegistryServer": ENDPOINT, "z": 1}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a: 1\n---\nb: 2\n", "more than one YAML document"),
        ("%YAML 1.2\n---\na: 1\n", "directive"),
        ("npmScopes:\n\tacme: {}\n", "tab"),
        ('npmScopes: {"acme":\n  {}}\n', "goes on over lines"),
        ('npmScopes: "a\n  b"\n', "goes on over lines"),
        ("npmScopes: &s\n  acme: {}\n", "not a block mapping"),
        ("npmScopes: !!map\n  acme: {}\n", "not a block mapping"),
        ("npmScopes:\n  <<: *base\n", "merge key"),
        ("npmScopes:\n  ? acme\n  : {}\n", "not a simple"),
        ("- a\n- b\n", "not a simple"),
        ("npmScopes: acme\n", "not a block mapping"),
        ("npmScopes:\n  acme: {npmAuthToken: x}\n", "not a block mapping"),
        ("npmScopes:\n- acme\n", "not a block mapping"),
        ("a: 1\n  b: 2\nnpmScopes: {}\n", "not where a mapping entry can be"),
    ],
)
def test_yarnrc_layouts_it_does_not_edit_are_refused(text: str, why: str) -> None:
    with pytest.raises(YamlLayoutError, match=why):
        set_values(text, ("npmScopes", "acme"), AUTH)


def test_yarnrc_lists() -> None:
    out, added = add_to_list("a: 1\n", "unsafeHttpWhitelist", "127.0.0.1")
    assert added and yaml.safe_load(out) == {"a": 1, "unsafeHttpWhitelist": ["127.0.0.1"]}
    again, added = add_to_list(out, "unsafeHttpWhitelist", "127.0.0.1")
    assert not added and again == out
    for text in (
        "unsafeHttpWhitelist:\n  - localhost  # mine\nz: 1\n",
        "unsafeHttpWhitelist:\n- localhost\nz: 1\n",
        "unsafeHttpWhitelist: [localhost]\nz: 1\n",
        "unsafeHttpWhitelist:\n    - 'localhost'\n    - sub:\n        x: 1\nz: 1\n",
    ):
        out, added = add_to_list(text, "unsafeHttpWhitelist", "127.0.0.1")
        data = yaml.safe_load(out)
        assert added and data["unsafeHttpWhitelist"][0] == "localhost" and data["z"] == 1, out
        assert data["unsafeHttpWhitelist"][-1] == "127.0.0.1", out
    out, added = add_to_list("unsafeHttpWhitelist: null\n", "unsafeHttpWhitelist", "h")
    assert added and yaml.safe_load(out) == {"unsafeHttpWhitelist": ["h"]}
    for bad in ("unsafeHttpWhitelist: localhost\n", 'unsafeHttpWhitelist: ["a,b"]\n', "unsafeHttpWhitelist:\n  a: 1\n"):
        with pytest.raises(YamlLayoutError):
            add_to_list(bad, "unsafeHttpWhitelist", "h")


def test_plan_yarn_reuses_the_entry_yarn_would_read(tmp_path: Path) -> None:
    yarnrc, rc = tmp_path / ".yarnrc.yml", tmp_path / ".npmrc"
    # yarn looks an exact (protocol, no trailing slash) key up before a protocol-less one
    yarnrc.write_text(f'npmRegistries:\n  "{NERF}":\n    a: 1\n  "{ENDPOINT.rstrip("/")}":\n    b: 2\n')
    plan = plan_yarn(ENDPOINT, "tok", yarnrc_file=yarnrc, npmrc_file=rc)
    data = yaml.safe_load(plan.files[0].content)
    assert data["npmRegistries"] == {NERF: {"a": 1}, ENDPOINT.rstrip("/"): {"b": 2, **AUTH}}
    assert keys(plan.files[0].content, ("npmRegistries",)) == [NERF, ENDPOINT.rstrip("/")]
    assert data["unsafeHttpWhitelist"] == ["127.0.0.1"]
    assert plan.files[1].content == f"registry={ENDPOINT}\n{NERF}:_authToken=tok\n{NERF}:always-auth=true\n"
    # https: no whitelist; a scope: under npmScopes, the .npmrc with the scope's registry and no always-auth
    plan = plan_yarn("https://h/npm/r/", "tok", namespace="@acme", yarnrc_file=tmp_path / "y", npmrc_file=rc)
    assert yaml.safe_load(plan.files[0].content) == {
        "npmScopes": {"acme": {"npmRegistryServer": "https://h/npm/r/", **AUTH}}
    }
    assert "@acme:registry=https://h/npm/r/\n//h/npm/r/:_authToken=tok\n" in plan.files[1].content
    assert "always-auth" not in plan.files[1].content.split("registry=https://h/npm/r/")[1]
    with pytest.raises(LoginError, match="left unchanged"):
        yarnrc.write_text("npmRegistries: [x]\n")
        plan_yarn(ENDPOINT, "tok", yarnrc_file=yarnrc, npmrc_file=rc)


# --- .yarnrc.yml: whatever PyYAML writes in block style -----------------------------------------------------------

plain_keys = st.from_regex(r"[A-Za-z0-9_@/.:-]([A-Za-z0-9_@/. :-]{0,10}[A-Za-z0-9_@/.-])?", fullmatch=True)
ascii_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), ascii_text)
values = st.recursive(
    st.one_of(scalars, st.lists(scalars, max_size=3)),
    lambda inner: st.dictionaries(plain_keys, inner, max_size=3),
    max_leaves=8,
)
documents = st.dictionaries(plain_keys, values, max_size=5)
paths = st.one_of(
    st.just(()), st.just(("npmRegistries", NERF)), st.lists(plain_keys, min_size=1, max_size=2).map(tuple)
)
new_values = st.dictionaries(plain_keys, st.one_of(ascii_text, st.booleans()), min_size=1, max_size=3)


def _expected(data: dict[str, Any], path: tuple[str, ...], new: dict[str, Any]) -> dict[str, Any] | None:
    """What the document should be, or None where the editor must refuse (a scalar where a mapping is needed)."""
    out = copy.deepcopy(data)
    table = out
    for key in path:
        if key not in table or table[key] is None:
            table[key] = {}
        if not isinstance(table[key], dict):
            return None
        table = table[key]
    table.update(new)
    return out


def _with_comments(text: str, seed: int) -> str:
    lines = text.splitlines(keepends=True)
    at = seed % (len(lines) + 1)
    indent = " " * (seed % 5)
    return "".join([*lines[:at], f"{indent}# comment {seed}\n", *lines[at:]])


def _existing_path(data: dict[str, Any], draw: st.DrawFn) -> tuple[str, ...]:
    """A path into the document's own mappings (then, maybe, one key more)."""
    path: list[str] = []
    table: Any = data
    while isinstance(table, dict) and table and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(table)))
        path.append(key)
        table = table[key]
    if draw(st.booleans()):
        path.append(draw(plain_keys))
    return tuple(path)


@settings(max_examples=150, deadline=None)
@given(documents, st.data(), new_values, st.sampled_from([2, 4]), st.integers(0, 1000))
def test_set_values_edits_what_pyyaml_writes(
    data: dict[str, Any], draw: st.DataObject, new: dict[str, Any], indent: int, seed: int
) -> None:
    path = draw.draw(st.one_of(paths, st.composite(lambda d: _existing_path(data, d))()))
    if data:
        text = yaml.safe_dump(data, default_flow_style=False, sort_keys=False, width=float("inf"), indent=indent)
        assume(yaml.safe_load(text) == data)
        text = _with_comments(text, seed)
    else:
        text = ""
    expected = _expected(data, path, new)
    if expected is None:
        with pytest.raises(YamlLayoutError):
            set_values(text, path, new)
        return
    out = set_values(text, path, new)
    assert (yaml.safe_load(out) or {}) == expected, out
    for key, value in new.items():
        assert get_value(out, (*path, key)) == (("true" if value else "false") if isinstance(value, bool) else value)
    # the lines that were there are all still there, in order (only replaced values' lines go)
    kept = [line for line in text.splitlines() if line.strip().startswith("#")]
    assert [line for line in out.splitlines() if line.strip().startswith("#")] == kept
