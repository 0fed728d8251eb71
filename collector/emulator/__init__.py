"""A Graph API emulator for the IG User Insights edge (see SPEC.md).

The collector's own modules never import this package; tests, benchmarks and
``ig-collector demo`` do.
"""
