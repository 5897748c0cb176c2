"""Citizens: creation, validation and look-up by normalised phone number."""
