"""The deterministic toy text embedder of tests/peers/embed.mjs, in Python.

Hashed bag of words: lower-case the text, take runs of [a-z0-9], hash each with 32-bit FNV-1a,
count it in bucket hash % DIMS, L2-normalise. Both implementations give the same floats for the
same text, so a query vector computed here finds what the Node peers indexed.
"""
import math
import re

DIMS = 32
_WORD = re.compile(r"[a-z0-9]+")


def fnv1a32(word):
    h = 0x811C9DC5
    for byte in word.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def words(text):
    return _WORD.findall(str(text).lower())


def embed(text):
    counts = [0] * DIMS
    for word in words(text):
        counts[fnv1a32(word) % DIMS] += 1
    sum_of_squares = 0
    for c in counts:
        sum_of_squares += c * c
    if sum_of_squares == 0:
        return [0] * DIMS
    norm = math.sqrt(sum_of_squares)
    return [c / norm for c in counts]
