"""The recording service: index every call's audio, find it, replay it, score it (issue #6)."""
