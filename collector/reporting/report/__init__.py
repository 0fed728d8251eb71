"""``ig-collector report``: a self-contained HTML report per account, from the store."""
