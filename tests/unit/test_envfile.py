"""`.s2i/environment` parsing: quoting, comments, export, and each error's message."""

from __future__ import annotations

import pytest

from packager.errors import SourceError, UsageError
from packager.source.envfile import parse_cli_pair, parse_env_text


def parse(text: str) -> dict[str, str]:
    return {e.key: e.value for e in parse_env_text(text, ".s2i/environment", committed=True)}


def test_plain_comments_blank_lines_and_export() -> None:
    text = "# comment\n\nMODEL_NAME=Model\n  export SERVICE_TYPE=ROUTER  \nA=b # trailing comment\nEMPTY=\n"
    assert parse(text) == {"MODEL_NAME": "Model", "SERVICE_TYPE": "ROUTER", "A": "b", "EMPTY": ""}


def test_single_quotes_are_literal() -> None:
    assert parse("X='a \"b\" $c # d'\n") == {"X": 'a "b" $c # d'}


def test_double_quotes_process_escapes() -> None:
    assert parse('X="say \\"hi\\" \\$HOME \\\\ end" # c\n') == {"X": 'say "hi" $HOME \\ end'}


def test_equals_in_value_and_spaces_around_key() -> None:
    assert parse("URL=https://h/x?a=b\n") == {"URL": "https://h/x?a=b"}


def test_origin_names_file_and_line() -> None:
    entries = parse_env_text("\n# c\nA=1\n", ".s2i/environment", committed=True)
    assert entries[0].origin == ".s2i/environment line 3"
    assert entries[0].committed


@pytest.mark.parametrize(
    "text, message",
    [
        ("A=1\nB=2\nC=3\nFOO\n", '.s2i/environment line 4: expected KEY=VALUE, got "FOO"'),
        ("1BAD=x\n", '.s2i/environment line 1: invalid key "1BAD"'),
        ("X='open\n", ".s2i/environment line 1: missing closing '"),
        ('X="a" b\n', ".s2i/environment line 1: unexpected text after the closing quote"),
    ],
)
def test_errors_name_file_line_and_content(text: str, message: str) -> None:
    with pytest.raises(SourceError) as info:
        parse(text)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 3


def test_unquoted_values_are_literal_like_s2i() -> None:
    # Seldon s2i folders write JSON parameters unquoted; s2i takes the value as it is.
    text = 'PREDICTIVE_UNIT_PARAMETERS=[{"name":"n","value":"3","type":"INT"}]\nX=a\'b\n// s2i comment\n'
    assert parse(text) == {
        "PREDICTIVE_UNIT_PARAMETERS": '[{"name":"n","value":"3","type":"INT"}]',
        "X": "a'b",
    }


def test_cli_pair() -> None:
    assert parse_cli_pair("A=b=c", "-e") == ("A", "b=c")
    assert parse_cli_pair("org.example/x=1", "--label") == ("org.example/x", "1")
    with pytest.raises(UsageError, match='-e "NOVALUE": expected KEY=VALUE'):
        parse_cli_pair("NOVALUE", "-e")
    with pytest.raises(UsageError):
        parse_cli_pair("=x", "--label")
