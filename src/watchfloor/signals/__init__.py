"""Signals: raw inputs (reports, referrals, detector hits) and the pure building blocks
that validate, normalise and match them before they are clustered.

The modules here do not touch the database: ``contract`` validates input,
``urls`` and ``text`` normalise, ``media`` and ``text`` match, ``language``
detects the language and ``surge`` spots bursts in counts.
"""
