"""Digor's backlog: the system of record of reported irritants."""
