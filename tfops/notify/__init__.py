"""Telling people what happened: Slack webhooks and GitHub drift issues."""
