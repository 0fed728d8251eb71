"""The collector as a library: InsightsClient.get_user_insights on the engine's call path."""
