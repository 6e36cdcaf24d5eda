"""How scripts/stack.py starts the Rasa server: the HTTP API is never open to all."""

from __future__ import annotations

from pathlib import Path

from scripts.stack import commands, default_env


def option(command, name):
    return command[command.index(name) + 1]


def test_rasa_listens_on_loopback_with_a_token_by_default():
    env = default_env({})
    rasa = commands(env, Path("model.tar.gz"))["rasa"]
    assert option(rasa, "--interface") == "127.0.0.1"
    assert "--enable-api" in rasa
    assert f"--auth-token={env['DIGOR_RASA_TOKEN']}" in rasa and len(env["DIGOR_RASA_TOKEN"]) >= 24


def test_a_token_that_begins_with_a_dash_is_still_one_argument():
    """secrets.token_urlsafe gives one such token in 64: Rasa refused to start."""
    import argparse

    from rasa.__main__ import create_argument_parser  # the parser `rasa` itself uses

    rasa = commands(default_env({"DIGOR_RASA_TOKEN": "-Abc_def"}), Path("model.tar.gz"))["rasa"]
    parsed = create_argument_parser().parse_args(rasa[1:])
    assert parsed.auth_token == "-Abc_def"
    assert isinstance(parsed, argparse.Namespace)


def test_the_interface_comes_from_the_environment():
    rasa = commands(default_env({"DIGOR_RASA_HOST": "10.0.0.5"}), Path("model.tar.gz"))["rasa"]
    assert option(rasa, "--interface") == "10.0.0.5"


def test_the_action_server_listens_on_loopback_unless_told_otherwise():
    actions = commands(default_env({}), Path("model.tar.gz"))["actions"]
    assert actions[:2] == ["env", "SANIC_HOST=127.0.0.1"] and "actions" in actions
    actions = commands(default_env({"DIGOR_ACTIONS_HOST": "0.0.0.0"}), Path("model.tar.gz"))["actions"]
    assert actions[1] == "SANIC_HOST=0.0.0.0"


def test_the_widget_page_may_call_rasa_under_both_names_of_this_machine():
    """`make run` prints http://localhost:…; a browser may also say 127.0.0.1."""
    from rasa.__main__ import create_argument_parser

    rasa = commands(default_env({"DIGOR_WEB_PORT": "8000"}), Path("model.tar.gz"))["rasa"]
    parsed = create_argument_parser().parse_args(rasa[1:])
    assert sorted(parsed.cors) == ["http://127.0.0.1:8000", "http://localhost:8000"]
