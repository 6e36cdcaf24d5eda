"""Digor's custom actions, served by the Rasa SDK action server."""
