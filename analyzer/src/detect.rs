//! Deterministic detectors (to be written).
