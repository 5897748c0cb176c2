"""Callback requests: what agents do with the calls a closed county took as requests."""
