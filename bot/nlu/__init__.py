"""Custom Rasa NLU components of Digor."""
