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
    assert option(rasa, "--auth-token") == env["DIGOR_RASA_TOKEN"] and len(env["DIGOR_RASA_TOKEN"]) >= 24


def test_the_interface_comes_from_the_environment():
    rasa = commands(default_env({"DIGOR_RASA_HOST": "10.0.0.5"}), Path("model.tar.gz"))["rasa"]
    assert option(rasa, "--interface") == "10.0.0.5"
