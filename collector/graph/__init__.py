"""What Meta's Graph API is: the metric catalogue, Pacific days, usage headers, answers, the HTTP transport and batches."""
