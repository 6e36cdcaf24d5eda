"""Input channels of the Rasa server (web widget; Teams, Mattermost and desk come next)."""
