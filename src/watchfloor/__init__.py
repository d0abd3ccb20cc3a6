"""Watchfloor: escalation and crisis response for Trust & Safety site-policy teams."""

__version__ = "0.1.0"
