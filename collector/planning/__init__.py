"""Which requests: windows the API accepts, the daemon's schedule, freshness and refresh work."""
