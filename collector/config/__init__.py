"""What the user asked: the TOML config and account registry, parsed once into frozen dataclasses."""
