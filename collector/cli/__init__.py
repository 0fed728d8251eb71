"""The shell's door: ig-collector's commands and the demo."""
