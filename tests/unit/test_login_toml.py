"""The TOML editor of ``coffer login`` (coffer.login.tools): the uv index and the poetry repository are set in place,
the rest of the user's file kept; whatever the file held, the result parses with tomllib to exactly the old data
with the one entry set, and that entry is replaced, never duplicated."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coffer.login.toml_edit import dumps, set_array_entry, set_table_values
from coffer.login.tools import (
    INDEX_NAME,
    LoginError,
    index_url,
    plan_poetry,
    plan_uv,
)

ENDPOINT = "http://127.0.0.1:5080/pypi/d/acme-111122223333/internal/"
URL = index_url(ENDPOINT, "tok")

# --- documents ------------------------------------------------------------------------------------------------

keys = st.one_of(
    st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True),  # bare
    st.text(st.characters(exclude_categories=["Cs"]), min_size=0, max_size=8),  # quoted: anything, "" included
)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=20),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
tables = st.recursive(
    st.dictionaries(keys, values, max_size=4),
    lambda inner: st.dictionaries(keys, st.one_of(values, inner, st.lists(inner, min_size=1, max_size=2)), max_size=4),
    max_leaves=10,
)


def parsed(text: str) -> dict[str, Any]:
    return tomllib.loads(text)


def with_table(data: dict[str, Any], path: tuple[str, ...], new: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    table = out
    for key in path:
        table = table.setdefault(key, {})
    table.update(new)
    return out


# --- the writer -----------------------------------------------------------------------------------------------


@settings(deadline=None)
@given(tables)
def test_dumps_round_trips_through_tomllib(data: dict[str, Any]) -> None:
    assert parsed(dumps(data)) == data


# --- tables (poetry's repositories.codeartifact, http-basic.codeartifact) --------------------------------------


@settings(deadline=None)
@given(tables, st.dictionaries(st.sampled_from(["url", "username", "password"]), scalars, min_size=1))
def test_set_table_values_changes_only_that_table(data: dict[str, Any], new: dict[str, Any]) -> None:
    path = ("repositories", INDEX_NAME)
    if not isinstance(data.get("repositories", {}), dict) or not isinstance(
        data.get("repositories", {}).get(INDEX_NAME, {}), dict
    ):
        with pytest.raises(LoginError):
            set_table_values(dumps(data), path, new)
        return
    edited = set_table_values(dumps(data), path, new)
    assert parsed(edited) == with_table(data, path, new)
    assert parsed(set_table_values(edited, path, new)) == parsed(edited)  # a second login changes nothing


def test_set_table_values_keeps_comments_layout_and_other_tables() -> None:
    text = """# poetry's config, by hand
[virtualenvs]
in-project = true   # keep venvs beside the project

[repositories.codeartifact]
# the old one
url = "http://old.invalid/"
other = 'kept'

[repositories."with.dot"]
url = "http://dot.invalid/"
"""
    edited = set_table_values(text, ("repositories", INDEX_NAME), {"url": ENDPOINT})
    assert edited == text.replace('url = "http://old.invalid/"', f'url = "{ENDPOINT}"')
    assert set_table_values(edited, ("repositories", INDEX_NAME), {"url": ENDPOINT}) == edited  # byte for byte
    assert parsed(edited)["repositories"]["with.dot"] == {"url": "http://dot.invalid/"}


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0c", "\x1c", "\r"])
def test_line_separators_inside_strings_do_not_split_lines(separator: str) -> None:
    # TOML's lines end at LF only; the in-place edit must keep such a comment and the value byte for byte
    # (what follows the separator looks like a table header to a splitter that breaks the line there)
    text = f'# keep me\n[repositories.other]\nurl = "http://a.invalid/{separator}[repositories.{INDEX_NAME}]"  # me\n'
    if separator in "\x0c\x1c\r":  # control characters must be escaped in a TOML basic string
        text = text.replace(separator, "\\u" + f"{ord(separator):04x}")
    edited = set_table_values(text, ("repositories", INDEX_NAME), {"url": ENDPOINT})
    assert edited.startswith(text)
    assert parsed(edited)["repositories"]["other"]["url"].endswith(f"[repositories.{INDEX_NAME}]")
    assert parsed(edited)["repositories"][INDEX_NAME] == {"url": ENDPOINT}


def test_set_table_values_appends_a_table_and_keeps_the_rest_byte_for_byte() -> None:
    text = '# auth\n[http-basic.other]\nusername = "me"\npassword = "secret"\n'
    edited = set_table_values(text, ("http-basic", INDEX_NAME), {"username": "aws", "password": "tok"})
    assert edited.startswith(text)
    assert parsed(edited)["http-basic"] == {
        "other": {"username": "me", "password": "secret"},
        INDEX_NAME: {"username": "aws", "password": "tok"},
    }


def test_a_quoted_key_is_replaced_not_added_again() -> None:
    text = '[repositories.codeartifact]\n"url" = "http://old.invalid/"\n'
    edited = set_table_values(text, ("repositories", INDEX_NAME), {"url": ENDPOINT})
    assert parsed(edited) == {"repositories": {INDEX_NAME: {"url": ENDPOINT}}}
    assert edited.count("url") == 1


def test_a_table_given_by_dotted_keys_is_rewritten_to_the_same_data() -> None:
    text = 'repositories.codeartifact.url = "http://old.invalid/"  # dotted\nname = "x"\n'
    edited = set_table_values(text, ("repositories", INDEX_NAME), {"url": ENDPOINT})
    assert parsed(edited) == {"name": "x", "repositories": {INDEX_NAME: {"url": ENDPOINT}}}


def test_invalid_toml_is_refused_not_overwritten() -> None:
    with pytest.raises(LoginError, match="not valid TOML"):
        set_table_values("[repositories\nurl = 1\n", ("repositories", INDEX_NAME), {"url": ENDPOINT})


# --- arrays of tables (uv's [[index]]) -------------------------------------------------------------------------


index_entries = st.lists(
    st.fixed_dictionaries(
        {"name": st.one_of(st.sampled_from([INDEX_NAME, "pypi", "internal"]), st.text(max_size=6))},
        optional={"url": st.text(max_size=10), "default": st.booleans(), "explicit": st.booleans()},
    ),
    max_size=4,
)


def set_index(text: str) -> tuple[str, list[str]]:
    return set_array_entry(
        text, ("index",), ("name", INDEX_NAME), {"url": URL, "default": True}, others={"default": (True, False)}
    )


@settings(deadline=None)
@given(tables, index_entries)
def test_the_index_entry_is_set_once_and_the_rest_kept(other: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    other.pop("index", None)
    data = {**other, **({"index": entries} if entries else {})}
    edited, changed = set_index(dumps(data))
    result = parsed(edited)
    mine = [e for e in result["index"] if e.get("name") == INDEX_NAME]
    assert mine and all(e["url"] == URL and e["default"] is True for e in mine)
    assert len(mine) == max(1, sum(e["name"] == INDEX_NAME for e in entries))  # replaced, never one more
    theirs = [e for e in result["index"] if e.get("name") != INDEX_NAME]
    assert theirs == [
        {**e, "default": False} if e.get("default") is True else e for e in entries if e["name"] != INDEX_NAME
    ]
    assert changed == [e["name"] for e in entries if e["name"] != INDEX_NAME and e.get("default") is True]
    assert {k: v for k, v in result.items() if k != "index"} == other
    again, _ = set_index(edited)
    assert parsed(again) == result  # a second login changes nothing


def test_uv_toml_with_comments_and_other_indexes_is_edited_in_place() -> None:
    text = """# uv, by hand
native-tls = true

[[index]]
name = "pypi"
url = "https://pypi.org/simple/"  # the public one
default = true

[[index]]
name = "codeartifact"
url = "http://old.invalid/simple/"

[pip]
compile-bytecode = true
"""
    edited, changed = set_index(text)
    assert changed == ["pypi"]
    assert edited == (
        text.replace("default = true", "default = false").replace(
            'url = "http://old.invalid/simple/"', f'url = "{URL}"\ndefault = true'
        )
    )
    assert set_index(edited) == (edited, [])  # byte for byte


def test_an_index_that_is_not_an_array_of_tables_is_refused() -> None:
    with pytest.raises(LoginError, match=r"\[\[index\]\]: it is not an array of tables"):
        set_index('index = "https://example.invalid/"\n')


# --- the plans: what `coffer login --tool uv/poetry` writes ---------------------------------------------------


def test_plan_uv_twice_leaves_one_index(tmp_path: Path) -> None:
    path = tmp_path / "uv.toml"
    path.write_text('[[index]]\nname = "pypi"\nurl = "https://pypi.org/simple/"\n')
    first = plan_uv(ENDPOINT, "tok", path).files[0].content
    path.write_text(first)
    second = plan_uv(ENDPOINT, "tok2", path).files[0].content
    indexes = parsed(second)["index"]
    assert [e["name"] for e in indexes] == ["pypi", INDEX_NAME]
    assert indexes[1] == {"name": INDEX_NAME, "url": index_url(ENDPOINT, "tok2"), "default": True}


def test_plan_poetry_writes_config_and_auth(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[virtualenvs]\nin-project = true\n")
    config, auth = (change.content for change in plan_poetry(ENDPOINT, "tok", tmp_path).files)
    assert parsed(config) == {"virtualenvs": {"in-project": True}, "repositories": {INDEX_NAME: {"url": ENDPOINT}}}
    assert config.startswith("[virtualenvs]\nin-project = true\n")
    assert parsed(auth) == {"http-basic": {INDEX_NAME: {"username": "aws", "password": "tok"}}}
