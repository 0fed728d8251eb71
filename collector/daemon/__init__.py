"""Staying fresh: repeated bounded runs, token health, the account book and the stats event."""
