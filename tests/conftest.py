"""Test-wide strictness: rank promotion raises, and the backend is the CPU."""

import jax

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_platforms", "cpu")
