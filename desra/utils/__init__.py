"""Helpers shared by every stage: basicsr compatibility, image I/O, checkpoints and option parsing."""
